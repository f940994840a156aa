//! The plain-data input types (points, shapes, altitude and time ranges, 4-D volumes), the
//! limits they are checked against, and their validation.
//!
//! Validation is the only way to a [`PreparedVolume`]: [`Volume4::prepare`] validates first, so
//! the intersection code can rely on its invariants (finite numbers, at least three distinct
//! vertices, no self-intersection, a bounding cap small enough for the gnomonic projection).

use std::sync::Arc;

use crate::error::{AltitudeBound, Field, GeoError, PointRef};
use crate::planar::find_self_intersection;
use crate::prepared::{PreparedShape, PreparedVolume};
use crate::sphere::{cap_area_sr, ring_area_sr, Cap, Gnomonic, Vec3};
use crate::{
    ALTITUDE_MAX_M, ALTITUDE_MIN_M, CIRCLE_RADIUS_FACTOR, EARTH_RADIUS_M, MAX_CAP_RADIUS_DEG,
};

/// A point on the WGS84 surface, in degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatLng {
    /// Latitude in degrees, in [-90, 90].
    pub lat: f64,
    /// Longitude in degrees, in [-180, 180].
    pub lng: f64,
}

impl LatLng {
    /// A point from latitude and longitude in degrees.
    pub const fn new(lat: f64, lng: f64) -> Self {
        Self { lat, lng }
    }
}

/// A 2-D outline on the surface of the Earth.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// A polygon whose edges are great-circle arcs (shortest paths) between consecutive
    /// vertices, with an implicit closing edge from the last vertex back to the first. Of the two
    /// regions the outline bounds, the smaller one is meant, so the winding order is irrelevant.
    Polygon(Vec<LatLng>),
    /// Every point within `radius_m` metres of `center`, measured along the surface.
    Circle {
        /// The centre.
        center: LatLng,
        /// The radius in metres, greater than 0.
        radius_m: f64,
    },
}

/// A closed altitude interval in metres; a missing bound is open (unbounded) on that side.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AltitudeRange {
    /// Lowest altitude in metres, or `None` for no lower bound.
    pub lower_m: Option<f64>,
    /// Highest altitude in metres, or `None` for no upper bound.
    pub upper_m: Option<f64>,
}

impl AltitudeRange {
    /// No altitude restriction (for queries).
    pub const UNBOUNDED: Self = Self {
        lower_m: None,
        upper_m: None,
    };

    /// The closed range `[lower_m, upper_m]`; `lower_m == upper_m` is a valid zero-width band.
    pub const fn new(lower_m: f64, upper_m: f64) -> Self {
        Self {
            lower_m: Some(lower_m),
            upper_m: Some(upper_m),
        }
    }
}

/// A closed time window in microseconds since the Unix epoch; a missing bound is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeRange {
    /// Start, or `None` for no start.
    pub start_us: Option<i64>,
    /// End, or `None` for no end.
    pub end_us: Option<i64>,
}

impl TimeRange {
    /// No time restriction (for queries).
    pub const UNBOUNDED: Self = Self {
        start_us: None,
        end_us: None,
    };

    /// The closed window `[start_us, end_us]`; `start_us == end_us` is a valid instant.
    pub const fn new(start_us: i64, end_us: i64) -> Self {
        Self {
            start_us: Some(start_us),
            end_us: Some(end_us),
        }
    }
}

/// A shape extruded over an altitude range and a time window.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume4 {
    /// The outline on the surface.
    pub shape: Shape,
    /// The altitude band.
    pub altitude: AltitudeRange,
    /// The time window.
    pub time: TimeRange,
}

/// Size limits a shape is validated against. The caller picks them per entity type (for
/// example 10,000 vertices for an operational intent, 1,000 vertices and 10,000 km² for a
/// constraint).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ShapeLimits {
    /// Most vertices a polygon may have.
    pub max_vertices: usize,
    /// Largest area in km², or `None` for no area limit.
    pub max_area_km2: Option<f64>,
    /// Largest angular radius, in degrees, of the cap bounding the shape. Values above
    /// [`MAX_CAP_RADIUS_DEG`] are treated as that value, because the intersection test relies on
    /// it.
    pub max_cap_radius_deg: f64,
}

impl Default for ShapeLimits {
    /// 10,000 vertices, no area limit, caps up to [`MAX_CAP_RADIUS_DEG`].
    fn default() -> Self {
        Self {
            max_vertices: 10_000,
            max_area_km2: None,
            max_cap_radius_deg: MAX_CAP_RADIUS_DEG,
        }
    }
}

/// Two vertices closer than this chord (on the unit sphere, about 0.06 mm on the Earth) are the
/// same point. Exact comparison would miss the same point written two ways (longitude 180 and
/// -180, or any longitude at a pole).
const DUPLICATE_CHORD: f64 = 1e-11;

fn check_point(p: LatLng, at: PointRef) -> Result<Vec3, GeoError> {
    if !p.lat.is_finite() {
        return Err(GeoError::NonFinite {
            field: Field::Latitude(at),
        });
    }
    if !p.lng.is_finite() {
        return Err(GeoError::NonFinite {
            field: Field::Longitude(at),
        });
    }
    if !(-90.0..=90.0).contains(&p.lat) {
        return Err(GeoError::LatitudeOutOfRange { at, value: p.lat });
    }
    if !(-180.0..=180.0).contains(&p.lng) {
        return Err(GeoError::LongitudeOutOfRange { at, value: p.lng });
    }
    Ok(Vec3::from_lat_lng(p.lat, p.lng))
}

fn same_point(a: Vec3, b: Vec3) -> bool {
    let d = Vec3::new(a.x - b.x, a.y - b.y, a.z - b.z);
    d.norm() < DUPLICATE_CHORD
}

/// The first pair of vertices that are the same point, as (later, earlier).
fn find_duplicate(points: &[Vec3]) -> Option<(usize, usize)> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&i, &j| points[i].x.total_cmp(&points[j].x));
    let mut best: Option<(usize, usize)> = None;
    for (k, &i) in order.iter().enumerate() {
        for &j in &order[k + 1..] {
            if points[j].x - points[i].x >= DUPLICATE_CHORD {
                break;
            }
            if same_point(points[i], points[j]) {
                let pair = (i.max(j), i.min(j));
                // Report the earliest offending vertex, whatever order the sort visited them.
                if best.is_none_or(|b| pair < b) {
                    best = Some(pair);
                }
            }
        }
    }
    best
}

fn cap_limit_rad(limits: &ShapeLimits) -> f64 {
    limits
        .max_cap_radius_deg
        .min(MAX_CAP_RADIUS_DEG)
        .to_radians()
}

fn too_large(radius_rad: f64, limits: &ShapeLimits) -> GeoError {
    let max = cap_limit_rad(limits);
    GeoError::ShapeTooLarge {
        radius_deg: radius_rad.to_degrees(),
        max_deg: max.to_degrees(),
        max_km: max * EARTH_RADIUS_M / 1000.0,
    }
}

/// A validated shape: its prepared form, its cap and its area in km².
struct CheckedShape {
    shape: PreparedShape,
    cap: Cap,
    area_km2: f64,
}

fn sr_to_km2(sr: f64) -> f64 {
    sr * EARTH_RADIUS_M * EARTH_RADIUS_M / 1e6
}

fn check_polygon(vertices: &[LatLng], limits: &ShapeLimits) -> Result<CheckedShape, GeoError> {
    let count = vertices.len();
    if count < 3 {
        return Err(GeoError::TooFewVertices { count });
    }
    if count > limits.max_vertices {
        return Err(GeoError::TooManyVertices {
            count,
            max: limits.max_vertices,
        });
    }
    let points = vertices
        .iter()
        .enumerate()
        .map(|(i, p)| check_point(*p, PointRef::Vertex(i)))
        .collect::<Result<Vec<_>, _>>()?;
    if same_point(points[0], points[count - 1]) {
        return Err(GeoError::ClosedRing { index: count - 1 });
    }
    if let Some((index, duplicate_of)) = find_duplicate(&points) {
        return Err(GeoError::DuplicateVertex {
            index,
            duplicate_of,
        });
    }
    let cap = Cap::bounding(&points).ok_or_else(|| too_large(std::f64::consts::PI, limits))?;
    if cap.radius > cap_limit_rad(limits) {
        return Err(too_large(cap.radius, limits));
    }
    // Within the cap limit the whole outline is in the open hemisphere around the cap centre,
    // where the gnomonic projection keeps great-circle edges straight: crossings on the sphere
    // are exactly crossings in the plane.
    let projection = Gnomonic::new(cap.center);
    let planar: Vec<_> = points.iter().map(|p| projection.project(*p)).collect();
    if let Some((edge_a, edge_b)) = find_self_intersection(&planar) {
        return Err(GeoError::SelfIntersecting { edge_a, edge_b });
    }
    let area_km2 = sr_to_km2(ring_area_sr(&points, cap.center));
    Ok(CheckedShape {
        shape: PreparedShape::Polygon(Arc::from(points)),
        cap,
        area_km2,
    })
}

fn check_circle(
    center: LatLng,
    radius_m: f64,
    limits: &ShapeLimits,
) -> Result<CheckedShape, GeoError> {
    let c = check_point(center, PointRef::Center)?;
    if !radius_m.is_finite() {
        return Err(GeoError::NonFinite {
            field: Field::Radius,
        });
    }
    if radius_m <= 0.0 {
        return Err(GeoError::RadiusNotPositive { value: radius_m });
    }
    let radius = radius_m / EARTH_RADIUS_M;
    if radius > cap_limit_rad(limits) {
        return Err(too_large(radius, limits));
    }
    Ok(CheckedShape {
        shape: PreparedShape::Circle,
        // The intersection test uses the radius grown to cover the ellipsoid (see the crate
        // docs); the limits and the area use the radius as given.
        cap: Cap {
            center: c,
            radius: radius * CIRCLE_RADIUS_FACTOR,
        },
        area_km2: sr_to_km2(cap_area_sr(radius)),
    })
}

fn check_shape(shape: &Shape, limits: &ShapeLimits) -> Result<CheckedShape, GeoError> {
    let checked = match shape {
        Shape::Polygon(vertices) => check_polygon(vertices, limits)?,
        Shape::Circle { center, radius_m } => check_circle(*center, *radius_m, limits)?,
    };
    if let Some(max_km2) = limits.max_area_km2 {
        if checked.area_km2 > max_km2 {
            return Err(GeoError::AreaTooLarge {
                km2: checked.area_km2,
                max_km2,
            });
        }
    }
    Ok(checked)
}

fn check_altitude(range: &AltitudeRange) -> Result<(), GeoError> {
    for (value, bound) in [
        (range.lower_m, AltitudeBound::Lower),
        (range.upper_m, AltitudeBound::Upper),
    ] {
        let Some(value) = value else { continue };
        if !value.is_finite() {
            return Err(GeoError::NonFinite {
                field: Field::Altitude(bound),
            });
        }
        if !(ALTITUDE_MIN_M..=ALTITUDE_MAX_M).contains(&value) {
            return Err(GeoError::AltitudeOutOfRange {
                bound,
                value,
                min: ALTITUDE_MIN_M,
                max: ALTITUDE_MAX_M,
            });
        }
    }
    if let (Some(lower), Some(upper)) = (range.lower_m, range.upper_m) {
        if lower > upper {
            return Err(GeoError::AltitudeOrder { lower, upper });
        }
    }
    Ok(())
}

fn check_time(range: &TimeRange) -> Result<(), GeoError> {
    if let (Some(start_us), Some(end_us)) = (range.start_us, range.end_us) {
        if end_us < start_us {
            return Err(GeoError::TimeOrder { start_us, end_us });
        }
    }
    Ok(())
}

impl Shape {
    /// Validates the shape against `limits`.
    pub fn validate(&self, limits: &ShapeLimits) -> Result<(), GeoError> {
        check_shape(self, limits).map(|_| ())
    }

    /// Area in km² on the model sphere: the smaller region bounded by a polygon (spherical
    /// excess), or the exact cap area of a circle (radius as given). Validates the shape with
    /// the default limits first, since an invalid outline has no meaningful area.
    pub fn area_km2(&self) -> Result<f64, GeoError> {
        check_shape(self, &ShapeLimits::default()).map(|c| c.area_km2)
    }
}

impl Volume4 {
    /// Checks every rule: coordinates, vertex count, distinct vertices, no self-intersection,
    /// size and area limits, altitude range and order, time order. The first broken rule is
    /// returned.
    pub fn validate(&self, limits: &ShapeLimits) -> Result<(), GeoError> {
        self.prepare(limits).map(|_| ())
    }

    /// Validates the volume, then builds the form used for intersection tests and indexing.
    pub fn prepare(&self, limits: &ShapeLimits) -> Result<PreparedVolume, GeoError> {
        let checked = check_shape(&self.shape, limits)?;
        check_altitude(&self.altitude)?;
        check_time(&self.time)?;
        Ok(PreparedVolume::new(
            checked.shape,
            checked.cap,
            self.altitude,
            self.time,
        ))
    }
}
