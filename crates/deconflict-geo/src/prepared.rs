//! Prepared volumes and the exact intersection test.
//!
//! The test runs from cheapest to dearest: altitude and time intervals, then the bounding caps,
//! then the shapes themselves. Circles against circles are settled by the caps (a circle is its
//! own cap); a circle against a polygon by the spherical distance from the centre to the
//! outline; two polygons in a gnomonic projection, where their great-circle edges are straight.
//! A strictly convex polygon is first tried as the intersection of its edges' hemispheres
//! ([`Convex`]), which settles most pairs an index query meets without projecting.

use std::sync::Arc;

use rstar::AABB;

use crate::planar::polygons_intersect;
use crate::sphere::{point_arc_distance, Cap, Convex, Gnomonic, Vec3};
use crate::volume::{AltitudeRange, TimeRange};
use crate::{EARTH_RADIUS_M, TOLERANCE_M};

/// The shape part of a prepared volume. A circle's centre and (grown) radius are its cap.
#[derive(Clone, Debug)]
pub(crate) enum PreparedShape {
    /// Vertices as unit vectors.
    Polygon(Arc<[Vec3]>),
    Circle,
}

/// A validated volume in the form used by the intersection test and the index: unit vectors,
/// bounding cap, altitude and time as closed intervals. Cloning is cheap (the vertices are
/// shared).
///
/// Build one with [`Volume4::prepare`](crate::Volume4::prepare).
#[derive(Clone, Debug)]
pub struct PreparedVolume {
    shape: PreparedShape,
    cap: Cap,
    /// Lower and upper altitude in metres, infinite where open.
    altitude: [f64; 2],
    /// Start and end in microseconds, `i64::MIN` / `i64::MAX` where open.
    time: [i64; 2],
}

/// Index coordinates are `f32` to halve the size of each R-tree entry (memory per entity
/// matters at a million entities). Every bound is rounded outward, so boxes only grow: by at
/// most about 0.5 m in position and, with times counted from `TIME_ORIGIN_S` (2025-06-15),
/// by at most 8 s in time for dates within three years of it.
const TIME_ORIGIN_S: f64 = 1.75e9;
/// Added to a polygon's cap depth in [`PreparedVolume::shape_box`] against rounding in the
/// vertices' unit vectors (about 6 micrometres on the Earth).
const CAP_DEPTH_SLACK: f64 = 1e-12;
/// Altitude and time are clamped to these magnitudes in the index (metres and seconds from
/// the origin). Clamping is monotone, so overlapping intervals stay overlapping; open bounds
/// become the clamp value. They keep box volumes (the product of the five extents, which the
/// R-tree's split heuristics compute) finite in `f32`.
const INDEX_ALTITUDE_CLAMP_M: f64 = 1e6;
const INDEX_TIME_CLAMP_S: f64 = 1e10;
/// Outward padding of the time bounds, in seconds, before rounding to `f32`: converting
/// microseconds to seconds in `f64` may be off by far less than this.
const TIME_PAD_S: f64 = 1e-3;

fn round_down(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) > x {
        f.next_down()
    } else {
        f
    }
}

fn round_up(x: f64) -> f32 {
    let f = x as f32;
    if f64::from(f) < x {
        f.next_up()
    } else {
        f
    }
}

fn index_time_s(t_us: i64, pad: f64) -> f64 {
    (t_us as f64 / 1e6 - TIME_ORIGIN_S + pad).clamp(-INDEX_TIME_CLAMP_S, INDEX_TIME_CLAMP_S)
}

impl PreparedVolume {
    pub(crate) fn new(
        shape: PreparedShape,
        cap: Cap,
        altitude: AltitudeRange,
        time: TimeRange,
    ) -> Self {
        Self {
            shape,
            cap,
            altitude: [
                altitude.lower_m.unwrap_or(f64::NEG_INFINITY),
                altitude.upper_m.unwrap_or(f64::INFINITY),
            ],
            time: [
                time.start_us.unwrap_or(i64::MIN),
                time.end_us.unwrap_or(i64::MAX),
            ],
        }
    }

    /// The altitude range, as given.
    pub fn altitude(&self) -> AltitudeRange {
        AltitudeRange {
            lower_m: self.altitude[0].is_finite().then_some(self.altitude[0]),
            upper_m: self.altitude[1].is_finite().then_some(self.altitude[1]),
        }
    }

    /// The time window, as given (an open end reads back as `None`).
    pub fn time(&self) -> TimeRange {
        TimeRange {
            start_us: (self.time[0] != i64::MIN).then_some(self.time[0]),
            end_us: (self.time[1] != i64::MAX).then_some(self.time[1]),
        }
    }

    pub(crate) fn shape(&self) -> &PreparedShape {
        &self.shape
    }
    pub(crate) fn cap(&self) -> &Cap {
        &self.cap
    }
    /// Altitude bounds, infinite where open.
    pub(crate) fn altitude_bounds(&self) -> [f64; 2] {
        self.altitude
    }
    /// Time bounds in microseconds, `i64::MIN`/`i64::MAX` where open.
    pub(crate) fn time_bounds(&self) -> [i64; 2] {
        self.time
    }

    /// The 3-D box (unit sphere) holding the shape and every point within `pad` radians of it.
    ///
    /// For a polygon, the box of its cap is cut down to the box of its vertices grown by the
    /// cap's depth `1 - cos r`: a point of the polygon lies on the ray from the Earth's centre
    /// through some point `h` of the vertices' convex hull (the polygon lies in their spherical
    /// hull), and `|h| >= cos r` since every vertex is within `r` of the cap's centre, so the
    /// point is within `1 - cos r` of `h`, which is inside the vertices' box. A square's cap
    /// box has twice the square's area; this one about the square's.
    fn shape_box(&self, pad: f64) -> ([f64; 3], [f64; 3]) {
        let (mut lo, mut hi) = self.cap.aabb(pad);
        if let PreparedShape::Polygon(vertices) = &self.shape {
            // 1 - cos r, written so that it keeps its digits for small caps.
            let s = (self.cap.radius / 2.0).sin();
            let grow = 2.0 * s * s + pad + CAP_DEPTH_SLACK;
            for axis in 0..3 {
                let (vlo, vhi) = vertices
                    .iter()
                    .map(|v| v.component(axis))
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
                        (l.min(x), h.max(x))
                    });
                lo[axis] = lo[axis].max(vlo - grow);
                hi[axis] = hi[axis].min(vhi + grow);
            }
        }
        (lo, hi)
    }

    /// The 5-D box the index files this volume under: the 3-D box of the shape on the sphere
    /// (in metres from the Earth's centre), altitude in metres, time in seconds from
    /// `TIME_ORIGIN_S`. It is padded and rounded outward so that two volumes the exact test
    /// calls intersecting always have overlapping boxes.
    pub(crate) fn envelope(&self) -> AABB<[f32; 5]> {
        let (lo, hi) = self.shape_box(TOLERANCE_M / EARTH_RADIUS_M + 1e-12);
        let alt = |a: f64| a.clamp(-INDEX_ALTITUDE_CLAMP_M, INDEX_ALTITUDE_CLAMP_M);
        let r = EARTH_RADIUS_M;
        AABB::from_corners(
            [
                round_down(lo[0] * r),
                round_down(lo[1] * r),
                round_down(lo[2] * r),
                round_down(alt(self.altitude[0])),
                round_down(index_time_s(self.time[0], -TIME_PAD_S)),
            ],
            [
                round_up(hi[0] * r),
                round_up(hi[1] * r),
                round_up(hi[2] * r),
                round_up(alt(self.altitude[1])),
                round_up(index_time_s(self.time[1], TIME_PAD_S)),
            ],
        )
    }

    /// The box the index files this volume under, as `f64` corners `(lo, hi)`: x, y, z of the
    /// bounding cap in metres from the Earth's centre, altitude in metres (clamped to
    /// +-1,000 km), time in seconds from 2025-06-15 (clamped to +-1e10 s). Every bound is finite.
    /// Two volumes that [`intersects`] accepts always have overlapping boxes, so a store may
    /// pre-filter on these bounds (for example with B-tree indexes) and run the exact test on
    /// the candidates.
    pub fn index_bounds(&self) -> ([f64; 5], [f64; 5]) {
        let e = self.envelope();
        (e.lower().map(f64::from), e.upper().map(f64::from))
    }
}

fn circle_polygon(circle: &Cap, polygon: &[Vec3], polygon_cap: &Cap) -> bool {
    let reach = circle.radius + TOLERANCE_M / EARTH_RADIUS_M;
    let centre_inside = match Convex::of(polygon) {
        Some(hull) if hull.separates(&[circle.center], reach) => return false,
        Some(hull) => hull.contains(circle.center),
        None => {
            // Both lie within the cap limit of the polygon's cap centre (the caps are known
            // to be close), so the projection there is valid for the point-in-polygon test.
            let projection = Gnomonic::new(polygon_cap.center);
            let poly = projection.project_polygon(polygon);
            geo::Intersects::intersects(&poly, &projection.project(circle.center))
        }
    };
    if centre_inside {
        return true;
    }
    let n = polygon.len();
    (0..n).any(|i| point_arc_distance(circle.center, polygon[i], polygon[(i + 1) % n]) <= reach)
}

fn polygon_polygon(a: &[Vec3], a_cap: &Cap, b: &[Vec3], b_cap: &Cap) -> bool {
    // Most pairs the index offers are a small shape inside or across the edge of a larger
    // convex one (an intent in a query area), or clear of it: settled by the vertices of one
    // and the edges of the other, without projecting either. A pair this lets through has
    // shapes within the tolerance of each other or crossing without a vertex in the other.
    let tolerance = TOLERANCE_M / EARTH_RADIUS_M;
    for (outer, inner) in [(a, b), (b, a)] {
        if let Some(hull) = Convex::of(outer) {
            if inner.iter().any(|v| hull.contains(*v)) {
                return true;
            }
            if hull.separates(inner, tolerance) {
                return false;
            }
        }
    }
    // Centred between the two caps, every point of both shapes is at most
    // (distance between centres)/2 + cap radius <= 2 * MAX_CAP_RADIUS_DEG < 90 degrees away, so
    // both project without wrapping. The sum is commutative, so the test is symmetric.
    let center = a_cap
        .center
        .add(b_cap.center)
        .normalized()
        .unwrap_or(a_cap.center);
    let projection = Gnomonic::new(center);
    polygons_intersect(
        &projection.project_polygon(a),
        &projection.project_polygon(b),
        TOLERANCE_M,
    )
}

/// Whether two volumes share at least one point (altitude and time included, bounds included).
///
/// Never a false negative on the model sphere; it may over-report by the tolerance stated in the
/// crate documentation. Symmetric: `intersects(a, b) == intersects(b, a)`.
pub fn intersects(a: &PreparedVolume, b: &PreparedVolume) -> bool {
    if a.altitude[0] > b.altitude[1] || b.altitude[0] > a.altitude[1] {
        return false;
    }
    if a.time[0] > b.time[1] || b.time[0] > a.time[1] {
        return false;
    }
    if a.cap.disjoint(&b.cap, TOLERANCE_M / EARTH_RADIUS_M) {
        return false;
    }
    match (&a.shape, &b.shape) {
        (PreparedShape::Circle, PreparedShape::Circle) => true,
        (PreparedShape::Circle, PreparedShape::Polygon(p)) => circle_polygon(&a.cap, p, &b.cap),
        (PreparedShape::Polygon(p), PreparedShape::Circle) => circle_polygon(&b.cap, p, &a.cap),
        (PreparedShape::Polygon(p), PreparedShape::Polygon(q)) => {
            polygon_polygon(p, &a.cap, q, &b.cap)
        }
    }
}

/// Whether any volume of `a` intersects any volume of `b`.
pub fn any_intersects(a: &[PreparedVolume], b: &[PreparedVolume]) -> bool {
    a.iter().any(|x| b.iter().any(|y| intersects(x, y)))
}
