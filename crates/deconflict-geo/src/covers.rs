//! Coverage: whether one volume holds another entirely, as F3548 requires of the subscription
//! an operational intent relies on.
//!
//! Shapes are compared on the model sphere. Where a circle is involved, the outline of `outer`
//! may be exceeded by up to [`TOLERANCE_M`], and circles are used with the same grown radius as
//! in [`intersects`](crate::intersects), which counts towards an outer circle and against an
//! inner one. A polygon in a polygon is decided exactly (a polygon covers itself).

use geo::Relate;

use crate::prepared::{PreparedShape, PreparedVolume};
use crate::sphere::{point_arc_distance, Cap, Gnomonic, Vec3};
use crate::{EARTH_RADIUS_M, TOLERANCE_M};

const TOL_RAD: f64 = TOLERANCE_M / EARTH_RADIUS_M;

/// Whether every point of `inner` (shape, altitude band and time window) lies in `outer`.
pub fn covers(outer: &PreparedVolume, inner: &PreparedVolume) -> bool {
    let (oa, ia) = (outer.altitude_bounds(), inner.altitude_bounds());
    let (ot, it) = (outer.time_bounds(), inner.time_bounds());
    oa[0] <= ia[0]
        && oa[1] >= ia[1]
        && ot[0] <= it[0]
        && ot[1] >= it[1]
        && shape_covers(outer, inner)
}

fn shape_covers(outer: &PreparedVolume, inner: &PreparedVolume) -> bool {
    let (oc, ic) = (outer.cap(), inner.cap());
    match (outer.shape(), inner.shape()) {
        (PreparedShape::Circle, PreparedShape::Circle) => {
            oc.center.angle_to(ic.center) + ic.radius <= oc.radius + TOL_RAD
        }
        // A cap smaller than a hemisphere is convex: it holds a polygon iff it holds its
        // vertices.
        (PreparedShape::Circle, PreparedShape::Polygon(q)) => q
            .iter()
            .all(|p| oc.center.angle_to(*p) <= oc.radius + TOL_RAD),
        (PreparedShape::Polygon(p), PreparedShape::Circle) => circle_in_polygon(p, oc, ic),
        (PreparedShape::Polygon(p), PreparedShape::Polygon(q)) => polygon_in_polygon(p, oc, q),
    }
}

fn circle_in_polygon(polygon: &[Vec3], polygon_cap: &Cap, circle: &Cap) -> bool {
    if polygon_cap.center.angle_to(circle.center) > polygon_cap.radius {
        return false;
    }
    let projection = Gnomonic::new(polygon_cap.center);
    let centre_inside = geo::Intersects::intersects(
        &projection.project_polygon(polygon),
        &projection.project(circle.center),
    );
    let n = polygon.len();
    centre_inside
        && (0..n).all(|i| {
            point_arc_distance(circle.center, polygon[i], polygon[(i + 1) % n])
                >= circle.radius - TOL_RAD
        })
}

fn polygon_in_polygon(outer: &[Vec3], outer_cap: &Cap, inner: &[Vec3]) -> bool {
    // Necessary, and it keeps every inner vertex within the projection's valid hemisphere.
    if inner
        .iter()
        .any(|v| outer_cap.center.angle_to(*v) > outer_cap.radius + TOL_RAD)
    {
        return false;
    }
    let projection = Gnomonic::new(outer_cap.center);
    // The projection maps great circles to straight lines, so planar coverage is coverage on
    // the sphere.
    projection
        .project_polygon(outer)
        .relate(&projection.project_polygon(inner))
        .is_covers()
}
