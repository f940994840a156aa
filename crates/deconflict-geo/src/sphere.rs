//! Vector maths on the unit sphere: conversion from latitude/longitude, angles, bounding caps,
//! spherical areas, distances to great-circle arcs and the gnomonic projection.
//!
//! Points are 3-D unit vectors. That form has no antimeridian and no pole singularity, which is
//! why everything past input parsing works on it rather than on degrees.

use crate::EARTH_RADIUS_M;

/// A point or direction in 3-D space; points on the sphere have unit length.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Vec3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

impl Vec3 {
    pub const fn new(x: f64, y: f64, z: f64) -> Self {
        Self { x, y, z }
    }

    /// The unit vector of a latitude/longitude in degrees.
    pub fn from_lat_lng(lat_deg: f64, lng_deg: f64) -> Self {
        let (slat, clat) = lat_deg.to_radians().sin_cos();
        let (slng, clng) = lng_deg.to_radians().sin_cos();
        Self::new(clat * clng, clat * slng, slat)
    }

    pub fn dot(self, o: Self) -> f64 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }

    pub fn cross(self, o: Self) -> Self {
        Self::new(
            self.y * o.z - self.z * o.y,
            self.z * o.x - self.x * o.z,
            self.x * o.y - self.y * o.x,
        )
    }

    pub fn add(self, o: Self) -> Self {
        Self::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }

    pub fn scale(self, k: f64) -> Self {
        Self::new(self.x * k, self.y * k, self.z * k)
    }

    pub fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }

    /// This vector scaled to unit length, or `None` when it is too short to have a direction.
    pub fn normalized(self) -> Option<Self> {
        let n = self.norm();
        (n > 1e-300 && n.is_finite()).then(|| self.scale(1.0 / n))
    }

    /// Angle in radians between two unit vectors. `atan2` of sine and cosine stays accurate for
    /// tiny and for near-straight angles, where `acos` of the dot product does not.
    pub fn angle_to(self, o: Self) -> f64 {
        self.cross(o).norm().atan2(self.dot(o))
    }

    pub fn component(self, axis: usize) -> f64 {
        match axis {
            0 => self.x,
            1 => self.y,
            _ => self.z,
        }
    }
}

/// A spherical cap: every point within `radius` radians of `center`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cap {
    pub center: Vec3,
    pub radius: f64,
}

/// Slack added to every computed cap radius so that rounding in the angle computation can never
/// leave a vertex outside its own cap (about 6 micrometres on the Earth).
const CAP_SLACK_RAD: f64 = 1e-12;

impl Cap {
    /// A cap holding all `points`, or `None` when they have no meaningful centre (they cancel
    /// out, as points spread around the whole sphere do).
    ///
    /// Two centres are tried, the normalised mean and the normalised middle of the 3-D bounding
    /// box, and the one giving the smaller radius is kept: the mean is pulled towards clusters
    /// of vertices, the box middle is not. Neither is the minimal cap, which is fine: any cap that
    /// holds all vertices and is smaller than a hemisphere also holds the edges and the enclosed
    /// (smaller) region, because a cap smaller than a hemisphere is convex.
    pub fn bounding(points: &[Vec3]) -> Option<Cap> {
        let mut sum = Vec3::new(0.0, 0.0, 0.0);
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        for p in points {
            sum = sum.add(*p);
            for (axis, (l, h)) in lo.iter_mut().zip(hi.iter_mut()).enumerate() {
                let c = p.component(axis);
                *l = l.min(c);
                *h = h.max(c);
            }
        }
        let mid = Vec3::new(
            (lo[0] + hi[0]) / 2.0,
            (lo[1] + hi[1]) / 2.0,
            (lo[2] + hi[2]) / 2.0,
        );
        let radius_from = |c: Vec3| {
            points
                .iter()
                .map(|p| c.angle_to(*p))
                .fold(0.0_f64, f64::max)
        };
        [sum.normalized(), mid.normalized()]
            .into_iter()
            .flatten()
            .map(|c| Cap {
                center: c,
                radius: radius_from(c) + CAP_SLACK_RAD,
            })
            .min_by(|a, b| a.radius.total_cmp(&b.radius))
    }

    /// Whether two caps are farther apart than `margin_rad`.
    pub fn disjoint(&self, other: &Cap, margin_rad: f64) -> bool {
        self.center.angle_to(other.center) > self.radius + other.radius + margin_rad
    }

    /// The 3-D axis-aligned box holding the cap grown by `pad_rad`, as (lower, upper) corners on
    /// the unit sphere. Exact for the cap: along each axis the extreme is either the pole of the
    /// axis (when the cap holds it) or the cap edge nearest to it.
    pub fn aabb(&self, pad_rad: f64) -> ([f64; 3], [f64; 3]) {
        let r = (self.radius + pad_rad).min(std::f64::consts::PI);
        let (sr, cr) = r.sin_cos();
        let c = self.center;
        let mut lo = [0.0; 3];
        let mut hi = [0.0; 3];
        for axis in 0..3 {
            let cos_t = c.component(axis);
            let sin_t = match axis {
                0 => c.y.hypot(c.z),
                1 => c.x.hypot(c.z),
                _ => c.x.hypot(c.y),
            };
            let theta = sin_t.atan2(cos_t);
            hi[axis] = if theta <= r {
                1.0
            } else {
                cos_t * cr + sin_t * sr
            };
            lo[axis] = if theta + r >= std::f64::consts::PI {
                -1.0
            } else {
                cos_t * cr - sin_t * sr
            };
        }
        (lo, hi)
    }
}

/// Area in steradians of the smaller region bounded by a ring of great-circle edges, given a
/// reference point inside a hemisphere holding the ring (the cap centre).
///
/// Sums the signed solid angles of the triangles (reference, a, b) using the
/// Van Oosterom–Strackee formula, which is exact for great-circle triangles and stays accurate
/// for tiny ones.
pub(crate) fn ring_area_sr(ring: &[Vec3], reference: Vec3) -> f64 {
    let n = ring.len();
    let mut total = 0.0;
    for i in 0..n {
        let a = ring[i];
        let b = ring[(i + 1) % n];
        let c = reference;
        let num = c.dot(a.cross(b));
        let den = 1.0 + c.dot(a) + a.dot(b) + b.dot(c);
        total += 2.0 * num.atan2(den);
    }
    total.abs()
}

/// Area in steradians of a spherical cap of angular radius `r`: 2π(1 − cos r), written with
/// the half-angle sine so that small caps keep their precision.
pub(crate) fn cap_area_sr(r: f64) -> f64 {
    let s = (r / 2.0).sin();
    4.0 * std::f64::consts::PI * s * s
}

/// Angular distance in radians from `p` to the minor great-circle arc from `a` to `b`.
pub(crate) fn point_arc_distance(p: Vec3, a: Vec3, b: Vec3) -> f64 {
    let Some(n) = a.cross(b).normalized() else {
        return p.angle_to(a);
    };
    // The foot of the perpendicular from p lies on the arc iff p is on the inner side of the
    // two planes through the arc's ends that contain the arc's pole n.
    if a.cross(p).dot(n) >= 0.0 && p.cross(b).dot(n) >= 0.0 {
        p.dot(n).abs().min(1.0).asin()
    } else {
        p.angle_to(a).min(p.angle_to(b))
    }
}

/// Rings longer than this are not tried as [`Convex`]: the convexity check is quadratic, and
/// such rings are rare enough to go through the projection.
const CONVEX_MAX_VERTICES: usize = 16;

/// A strictly convex polygon as the hemispheres it is the intersection of, one per edge: a
/// point-in-polygon test, and a test of being wholly outside, with a few dot products instead
/// of a projection.
///
/// A ring counts as strictly convex when every vertex off an edge lies strictly on one and the
/// same side of that edge's great circle. The polygon (the smaller region the ring bounds) is
/// then the intersection of the closed hemispheres on that side.
pub(crate) struct Convex {
    /// The unit poles of the edges' great circles, each on the polygon's side.
    inward: [Vec3; CONVEX_MAX_VERTICES],
    len: usize,
}

impl Convex {
    /// `None` when `ring` is not strictly convex or has more than [`CONVEX_MAX_VERTICES`]
    /// vertices.
    pub fn of(ring: &[Vec3]) -> Option<Self> {
        let n = ring.len();
        if !(3..=CONVEX_MAX_VERTICES).contains(&n) {
            return None;
        }
        let mut inward = [Vec3::new(0.0, 0.0, 0.0); CONVEX_MAX_VERTICES];
        for (i, pole) in inward.iter_mut().enumerate().take(n) {
            *pole = ring[i].cross(ring[(i + 1) % n]).normalized()?;
        }
        // The side the polygon lies on: that of the vertex after the first edge (a zero here
        // is refused below).
        let side = inward[0].dot(ring[2]).signum();
        for (i, pole) in inward.iter_mut().enumerate().take(n) {
            // Every vertex but the edge's own two.
            if !(2..n).all(|k| pole.dot(ring[(i + k) % n]) * side > 0.0) {
                return None;
            }
            *pole = pole.scale(side);
        }
        Some(Self { inward, len: n })
    }

    fn poles(&self) -> &[Vec3] {
        &self.inward[..self.len]
    }

    /// Whether the polygon holds `p`. Rounding can put a point within about 1e-15 radians
    /// (nanometres) of the outline on either side, far inside
    /// [`TOLERANCE_M`](crate::TOLERANCE_M).
    pub fn contains(&self, p: Vec3) -> bool {
        self.poles().iter().all(|pole| pole.dot(p) >= 0.0)
    }

    /// Whether every point of `points` is more than `margin_rad` outside one and the same
    /// edge's great circle. Their convex hull, which holds any polygon with these vertices
    /// (and, for one point, the point), then lies more than `margin_rad` from this polygon.
    /// `margin_rad` must be below a quarter turn.
    pub fn separates(&self, points: &[Vec3], margin_rad: f64) -> bool {
        let below = -margin_rad.sin();
        self.poles()
            .iter()
            .any(|pole| points.iter().all(|p| pole.dot(*p) < below))
    }
}

/// The gnomonic projection onto the plane tangent to the sphere at `center`, scaled to metres
/// at the tangent point.
///
/// It maps every great circle to a straight line, so a polygon with great-circle edges becomes
/// a straight-edged planar polygon with exactly the same topology, for points in the open
/// hemisphere around the centre. Distances are never shrunk (the scale factor is at least 1 in
/// every direction), so a planar gap bounds the true gap from above.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gnomonic {
    center: Vec3,
    e1: Vec3,
    e2: Vec3,
}

impl Gnomonic {
    pub fn new(center: Vec3) -> Self {
        // Any axis not parallel to the centre gives a basis; the least aligned one is the most
        // accurate.
        let (ax, ay, az) = (center.x.abs(), center.y.abs(), center.z.abs());
        let axis = if ax <= ay && ax <= az {
            Vec3::new(1.0, 0.0, 0.0)
        } else if ay <= az {
            Vec3::new(0.0, 1.0, 0.0)
        } else {
            Vec3::new(0.0, 0.0, 1.0)
        };
        let e1 = center
            .cross(axis)
            .normalized()
            .unwrap_or(Vec3::new(0.0, 0.0, 1.0));
        let e2 = center.cross(e1);
        Self { center, e1, e2 }
    }

    /// Planar coordinates of `p`, which must lie in the open hemisphere around the centre
    /// (callers guarantee this through the cap-radius limit).
    pub fn project(&self, p: Vec3) -> geo::Coord<f64> {
        let d = p.dot(self.center);
        let k = EARTH_RADIUS_M / d;
        geo::Coord {
            x: p.dot(self.e1) * k,
            y: p.dot(self.e2) * k,
        }
    }

    /// The polygon with `ring`'s vertices, projected. Its exterior is made with room for the
    /// closing vertex, so that closing it does not copy the ring again.
    pub fn project_polygon(&self, ring: &[Vec3]) -> geo::Polygon<f64> {
        let mut coords = Vec::with_capacity(ring.len() + 1);
        coords.extend(ring.iter().map(|p| self.project(*p)));
        geo::Polygon::new(geo::LineString::new(coords), vec![])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_aabb_contains_poles_it_covers() {
        let cap = Cap {
            center: Vec3::from_lat_lng(89.0, 10.0),
            radius: 2f64.to_radians(),
        };
        let (lo, hi) = cap.aabb(0.0);
        assert_eq!(hi[2], 1.0);
        assert!(lo[2] > 0.99);
        assert!(lo[0] < 0.0 && hi[0] > 0.0);
    }

    #[test]
    fn arc_distance_uses_the_great_circle_not_the_rhumb_line() {
        // Two points on the 60th parallel, 40 degrees apart: the great circle between them
        // bulges north, so a point on the parallel at the midpoint is south of the arc.
        let a = Vec3::from_lat_lng(60.0, -20.0);
        let b = Vec3::from_lat_lng(60.0, 20.0);
        let on_parallel = Vec3::from_lat_lng(60.0, 0.0);
        let d = point_arc_distance(on_parallel, a, b) * EARTH_RADIUS_M;
        assert!(d > 100_000.0, "{d}");
    }

    /// The point `angle` radians from `center` towards `bearing` (radians from an arbitrary
    /// but fixed direction in the tangent plane).
    fn offset(center: Vec3, bearing: f64, angle: f64) -> Vec3 {
        let g = Gnomonic::new(center);
        let dir = g.e1.scale(bearing.cos()).add(g.e2.scale(bearing.sin()));
        center
            .scale(angle.cos())
            .add(dir.scale(angle.sin()))
            .normalized()
            .unwrap()
    }

    /// Whether the ring holds `p`, by the winding number of the ring around `p` on the sphere:
    /// an oracle that shares nothing with the half-space test.
    fn winds_around(ring: &[Vec3], p: Vec3) -> bool {
        let tangent = |a: Vec3| a.add(p.scale(-p.dot(a)));
        let n = ring.len();
        let total: f64 = (0..n)
            .map(|i| {
                let (a, b) = (tangent(ring[i]), tangent(ring[(i + 1) % n]));
                p.dot(a.cross(b)).atan2(a.dot(b))
            })
            .sum();
        total.abs() > std::f64::consts::PI
    }

    /// Distance in radians from `p` to the ring's outline.
    fn to_outline(ring: &[Vec3], p: Vec3) -> f64 {
        let n = ring.len();
        (0..n)
            .map(|i| point_arc_distance(p, ring[i], ring[(i + 1) % n]))
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn convex_test_knows_a_square_either_way_round_and_refuses_an_arrowhead_and_a_star() {
        let c = Vec3::from_lat_lng(36.2, 37.15);
        let d = 1_000.0 / EARTH_RADIUS_M;
        let square: Vec<Vec3> = (0..4)
            .map(|k| {
                offset(
                    c,
                    std::f64::consts::FRAC_PI_4 + f64::from(k) * std::f64::consts::FRAC_PI_2,
                    d,
                )
            })
            .collect();
        let reversed: Vec<Vec3> = square.iter().rev().copied().collect();
        let outside = offset(c, 0.0, 2.0 * d);
        for ring in [&square, &reversed] {
            let hull = Convex::of(ring).expect("a square is convex");
            assert!(hull.contains(c));
            assert!(!hull.contains(outside));
            // A millimetre inside a corner, and a millimetre outside it.
            let corner = ring[1].angle_to(c);
            let towards = |k: f64| ring[1].scale(1.0 - k).add(c.scale(k)).normalized().unwrap();
            let mm = 1e-3 / EARTH_RADIUS_M / corner;
            assert!(hull.contains(towards(mm)));
            assert!(!hull.contains(towards(-mm)));
            // `outside` is 2,000 m from the centre, about 1,290 m beyond the nearest edge.
            assert!(hull.separates(&[outside], 1_250.0 / EARTH_RADIUS_M));
            assert!(!hull.separates(&[outside], 1_330.0 / EARTH_RADIUS_M));
            assert!(!hull.separates(&[outside, c], 0.0));
        }
        // The square with its first corner pushed in past the centre (an arrowhead).
        let mut dented = square.clone();
        dented[0] = offset(c, 5.0 * std::f64::consts::FRAC_PI_4, d * 0.2);
        assert!(Convex::of(&dented).is_none());
        // A pentagram turns the same way at every vertex, but its edges cross.
        let star: Vec<Vec3> = (0..5)
            .map(|k| offset(c, f64::from(k) * 4.0 * std::f64::consts::PI / 5.0, d))
            .collect();
        assert!(Convex::of(&star).is_none());
    }

    proptest::proptest! {
        /// On rings of vertices at random bearings and distances around a centre (convex or
        /// not; near the poles and the antimeridian too), whenever a ring is taken as convex:
        /// `contains` agrees with the winding number, except within a micrometre of the
        /// outline, and `separates` a point only when it is outside and that far from the
        /// outline. Rings whose vertices lie on one circle are convex and must be taken so.
        #[test]
        fn convex_tests_agree_with_the_winding_number_and_the_distance(
            lat in proptest::prop_oneof![-89.99..89.99f64, 89.9..90.0f64, -90.0..-89.9f64],
            lng in proptest::prop_oneof![-180.0..180.0f64, 179.99..180.0f64],
            size_m in 10.0..20_000.0f64,
            steps in proptest::collection::vec((0.2..1.0f64, 0.5..1.0f64), 3..=16),
            round in proptest::bool::ANY,
            points in proptest::collection::vec(
                (0.0..std::f64::consts::TAU, 0.0..2.0f64, 0.0..0.5f64),
                1..16,
            ),
        ) {
            let c = Vec3::from_lat_lng(lat, lng);
            let total: f64 = steps.iter().map(|s| s.0).sum();
            let mut bearing = 0.0;
            let ring: Vec<Vec3> = steps
                .iter()
                .map(|&(step, r)| {
                    bearing += step / total * std::f64::consts::TAU;
                    let r = if round { 1.0 } else { r };
                    offset(c, bearing, r * size_m / EARTH_RADIUS_M)
                })
                .collect();
            let hull = Convex::of(&ring);
            if round && steps.iter().all(|s| s.0 / total < 0.45) {
                proptest::prop_assert!(hull.is_some());
            }
            let Some(hull) = hull else { return Ok(()) };
            for (b, k, margin) in points {
                let p = offset(c, b, k * size_m / EARTH_RADIUS_M);
                let outline = to_outline(&ring, p);
                if outline * EARTH_RADIUS_M > 1e-6 {
                    proptest::prop_assert_eq!(hull.contains(p), winds_around(&ring, p));
                }
                let margin = margin * size_m / EARTH_RADIUS_M;
                if hull.separates(&[p], margin) {
                    proptest::prop_assert!(!winds_around(&ring, p) && outline > margin);
                }
            }
        }
    }

    #[test]
    fn ring_area_of_an_octant_is_an_eighth_of_the_sphere() {
        let ring = [
            Vec3::new(1.0, 0.0, 0.0),
            Vec3::new(0.0, 1.0, 0.0),
            Vec3::new(0.0, 0.0, 1.0),
        ];
        let c = Vec3::new(1.0, 1.0, 1.0).normalized().unwrap();
        let a = ring_area_sr(&ring, c);
        assert!((a - std::f64::consts::PI / 2.0).abs() < 1e-12, "{a}");
    }
}
