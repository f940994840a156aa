//! Planar tests on gnomonic projections: self-intersection of one outline and the
//! intersection of two polygons with a distance tolerance.
//!
//! Both use a sort-and-sweep over edge bounding boxes, so that outlines with thousands of
//! vertices cost about `n log n` rather than `n * m` edge pairs in the usual case (edges short
//! compared with the outline). The edge-pair predicates come from `geo` and use robust
//! (adaptive-precision) orientation tests.

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, Intersects, Line, Polygon};

/// The bounding box of one edge, tagged with its polygon (0 or 1) and index.
#[derive(Clone, Copy, Debug)]
struct EdgeBox {
    xmin: f64,
    xmax: f64,
    ymin: f64,
    ymax: f64,
    owner: u8,
    index: u32,
}

impl EdgeBox {
    fn new(a: Coord<f64>, b: Coord<f64>, owner: u8, index: usize) -> Self {
        Self {
            xmin: a.x.min(b.x),
            xmax: a.x.max(b.x),
            ymin: a.y.min(b.y),
            ymax: a.y.max(b.y),
            owner,
            // Outlines are limited far below u32::MAX vertices by validation.
            index: u32::try_from(index).unwrap_or(u32::MAX),
        }
    }
}

/// Calls `f` on every pair of boxes that overlap once grown by `tol`, in no particular order,
/// and stops as soon as `f` returns `true`. Returns whether it stopped early.
fn sweep(boxes: &mut [EdgeBox], tol: f64, mut f: impl FnMut(&EdgeBox, &EdgeBox) -> bool) -> bool {
    boxes.sort_unstable_by(|a, b| a.xmin.total_cmp(&b.xmin));
    for i in 0..boxes.len() {
        let a = boxes[i];
        for b in &boxes[i + 1..] {
            if b.xmin > a.xmax + tol {
                break;
            }
            if b.ymin <= a.ymax + tol && a.ymin <= b.ymax + tol && f(&a, b) {
                return true;
            }
        }
    }
    false
}

fn edge(ring: &[Coord<f64>], i: usize) -> Line<f64> {
    Line::new(ring[i], ring[(i + 1) % ring.len()])
}

/// The first pair of edges (lower index first) found to cross, touch or overlap, if any.
/// Adjacent edges share a vertex by construction; they only count when they run back over
/// each other.
pub(crate) fn find_self_intersection(ring: &[Coord<f64>]) -> Option<(usize, usize)> {
    let n = ring.len();
    let mut boxes: Vec<EdgeBox> = (0..n)
        .map(|i| EdgeBox::new(ring[i], ring[(i + 1) % n], 0, i))
        .collect();
    let mut found = None;
    sweep(&mut boxes, 0.0, |a, b| {
        let (i, j) = if a.index < b.index {
            (a.index as usize, b.index as usize)
        } else {
            (b.index as usize, a.index as usize)
        };
        let bad = if j == i + 1 || (i == 0 && j == n - 1) {
            // Adjacent: (p, q) then (q, r), or the closing pair (last, 0).
            let (first, second) = if j == i + 1 { (i, j) } else { (j, i) };
            let p = ring[first];
            let q = ring[second];
            let r = ring[(second + 1) % n];
            RobustKernel::orient2d(p, q, r) == Orientation::Collinear
                && (p.x - q.x) * (r.x - q.x) + (p.y - q.y) * (r.y - q.y) > 0.0
        } else {
            edge(ring, i).intersects(&edge(ring, j))
        };
        if bad {
            found = Some((i, j));
        }
        bad
    });
    found
}

fn bbox(ring: &[Coord<f64>]) -> (Coord<f64>, Coord<f64>) {
    ring.iter().fold(
        (
            Coord {
                x: f64::INFINITY,
                y: f64::INFINITY,
            },
            Coord {
                x: f64::NEG_INFINITY,
                y: f64::NEG_INFINITY,
            },
        ),
        |(lo, hi), c| {
            (
                Coord {
                    x: lo.x.min(c.x),
                    y: lo.y.min(c.y),
                },
                Coord {
                    x: hi.x.max(c.x),
                    y: hi.y.max(c.y),
                },
            )
        },
    )
}

fn point_segment_distance(p: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let ab = b - a;
    let len2 = ab.x * ab.x + ab.y * ab.y;
    let t = if len2 > 0.0 {
        (((p.x - a.x) * ab.x + (p.y - a.y) * ab.y) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let d = p - (a + ab * t);
    d.x.hypot(d.y)
}

fn segments_within(s: Line<f64>, t: Line<f64>, tol: f64) -> bool {
    s.intersects(&t)
        || point_segment_distance(s.start, t.start, t.end) <= tol
        || point_segment_distance(s.end, t.start, t.end) <= tol
        || point_segment_distance(t.start, s.start, s.end) <= tol
        || point_segment_distance(t.end, s.start, s.end) <= tol
}

/// The vertices of `polygon`'s exterior without the closing repeat of the first.
fn open_ring(polygon: &Polygon<f64>) -> &[Coord<f64>] {
    let closed = &polygon.exterior().0;
    &closed[..closed.len().saturating_sub(1)]
}

/// Whether two simple polygons (closed regions) intersect or come within `tol` of each other.
///
/// If the outlines neither cross nor come close, the regions either are disjoint or one holds
/// the other entirely, which testing one vertex of each against the other settles.
/// Both are taken whole (not as rings) because the containment test needs the polygon, and
/// building it here for each test would copy both rings again.
pub(crate) fn polygons_intersect(pa: &Polygon<f64>, pb: &Polygon<f64>, tol: f64) -> bool {
    let (a, b) = (open_ring(pa), open_ring(pb));
    let (Some(a0), Some(b0)) = (a.first(), b.first()) else {
        return false;
    };
    let (alo, ahi) = bbox(a);
    let (blo, bhi) = bbox(b);
    if alo.x > bhi.x + tol || blo.x > ahi.x + tol || alo.y > bhi.y + tol || blo.y > ahi.y + tol {
        return false;
    }
    if pb.intersects(a0) || pa.intersects(b0) {
        return true;
    }
    // Only edges that reach into the other polygon's (grown) box can come close to it.
    let mut boxes = Vec::new();
    for (owner, ring, lo, hi) in [(0u8, a, blo, bhi), (1u8, b, alo, ahi)] {
        for i in 0..ring.len() {
            let e = EdgeBox::new(ring[i], ring[(i + 1) % ring.len()], owner, i);
            if e.xmin <= hi.x + tol
                && lo.x <= e.xmax + tol
                && e.ymin <= hi.y + tol
                && lo.y <= e.ymax + tol
            {
                boxes.push(e);
            }
        }
    }
    sweep(&mut boxes, tol, |e, f| {
        if e.owner == f.owner {
            return false;
        }
        let (ea, eb) = if e.owner == 0 { (e, f) } else { (f, e) };
        segments_within(edge(a, ea.index as usize), edge(b, eb.index as usize), tol)
    })
}

#[cfg(test)]
mod tests {
    use geo::LineString;

    use super::*;

    fn ring(pts: &[(f64, f64)]) -> Vec<Coord<f64>> {
        pts.iter().map(|&(x, y)| Coord { x, y }).collect()
    }

    fn polygon(pts: &[(f64, f64)]) -> Polygon<f64> {
        Polygon::new(LineString::new(ring(pts)), vec![])
    }

    #[test]
    fn bow_tie_is_self_intersecting() {
        let r = ring(&[(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)]);
        assert_eq!(find_self_intersection(&r), Some((0, 2)));
    }

    #[test]
    fn spike_back_along_an_edge_is_self_intersecting() {
        let r = ring(&[(0.0, 0.0), (2.0, 0.0), (1.0, 0.0), (1.0, 1.0)]);
        assert!(find_self_intersection(&r).is_some());
    }

    #[test]
    fn square_is_simple() {
        let r = ring(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]);
        assert_eq!(find_self_intersection(&r), None);
    }

    #[test]
    fn near_polygons_within_tolerance_intersect() {
        let a = polygon(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]);
        let b = polygon(&[(1.005, 0.0), (2.0, 0.0), (2.0, 1.0), (1.005, 1.0)]);
        assert!(polygons_intersect(&a, &b, 0.01));
        assert!(!polygons_intersect(&a, &b, 0.001));
    }
}
