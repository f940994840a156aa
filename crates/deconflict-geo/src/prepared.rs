//! Prepared volumes and the exact intersection test.
//!
//! The test runs from cheapest to dearest: altitude and time intervals, then the bounding caps,
//! then the shapes themselves. Circles against circles are settled by the caps (a circle is its
//! own cap); a circle against a polygon by the spherical distance from the centre to the
//! outline; two polygons in a gnomonic projection, where their great-circle edges are straight.

use std::sync::Arc;

use rstar::AABB;

use crate::planar::polygons_intersect;
use crate::sphere::{point_arc_distance, Cap, Gnomonic, Vec3};
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

/// Bounds used in the index for open altitude and time ranges: finite, because the R-tree's
/// split heuristics compute areas, yet far beyond any real value.
const OPEN_ALTITUDE_M: f64 = 1e12;
const OPEN_TIME_S: f64 = 1e14;
/// Outward padding of the time bounds in the index, in seconds: converting microseconds to
/// seconds in `f64` may round by far less than this.
const TIME_PAD_S: f64 = 1e-3;

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

    /// The 5-D box the index files this volume under: the 3-D box of its cap on the sphere (in
    /// metres from the Earth's centre), altitude in metres, time in seconds. It is padded so
    /// that two volumes the exact test calls intersecting always have overlapping boxes.
    pub(crate) fn envelope(&self) -> AABB<[f64; 5]> {
        let (lo, hi) = self.cap.aabb(TOLERANCE_M / EARTH_RADIUS_M + 1e-12);
        let alt_lo = self.altitude[0].max(-OPEN_ALTITUDE_M);
        let alt_hi = self.altitude[1].min(OPEN_ALTITUDE_M);
        let t_lo = if self.time[0] == i64::MIN {
            -OPEN_TIME_S
        } else {
            self.time[0] as f64 / 1e6 - TIME_PAD_S
        };
        let t_hi = if self.time[1] == i64::MAX {
            OPEN_TIME_S
        } else {
            self.time[1] as f64 / 1e6 + TIME_PAD_S
        };
        let r = EARTH_RADIUS_M;
        AABB::from_corners(
            [lo[0] * r, lo[1] * r, lo[2] * r, alt_lo, t_lo],
            [hi[0] * r, hi[1] * r, hi[2] * r, alt_hi, t_hi],
        )
    }
}

fn circle_polygon(circle: &Cap, polygon: &[Vec3], polygon_cap: &Cap) -> bool {
    let reach = circle.radius + TOLERANCE_M / EARTH_RADIUS_M;
    // Both lie within the cap limit of the polygon's cap centre (the caps are known to be
    // close), so the projection there is valid for the point-in-polygon test.
    let projection = Gnomonic::new(polygon_cap.center);
    let ring: Vec<_> = polygon.iter().map(|p| projection.project(*p)).collect();
    let poly = geo::Polygon::new(geo::LineString::new(ring), vec![]);
    if geo::Intersects::intersects(&poly, &projection.project(circle.center)) {
        return true;
    }
    let n = polygon.len();
    (0..n).any(|i| point_arc_distance(circle.center, polygon[i], polygon[(i + 1) % n]) <= reach)
}

fn polygon_polygon(a: &[Vec3], a_cap: &Cap, b: &[Vec3], b_cap: &Cap) -> bool {
    // Centred between the two caps, every point of both shapes is at most
    // (distance between centres)/2 + cap radius <= 2 * MAX_CAP_RADIUS_DEG < 90 degrees away, so
    // both project without wrapping. The sum is commutative, so the test is symmetric.
    let center = a_cap
        .center
        .add(b_cap.center)
        .normalized()
        .unwrap_or(a_cap.center);
    let projection = Gnomonic::new(center);
    let pa: Vec<_> = a.iter().map(|p| projection.project(*p)).collect();
    let pb: Vec<_> = b.iter().map(|p| projection.project(*p)).collect();
    polygons_intersect(&pa, &pb, TOLERANCE_M)
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
