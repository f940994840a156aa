//! 4-D volumes (a shape on the Earth's surface, an altitude band and a time window), their
//! validation, an exact intersection test and a spatio-temporal index. Pure Rust, no I/O.
//!
//! # Model
//!
//! * Points are WGS84 latitude/longitude in degrees, placed on a **sphere of radius
//!   [`EARTH_RADIUS_M`] (6,371,008.8 m, the mean Earth radius)** with the latitude used as given.
//! * A [`Shape::Polygon`] has great-circle edges (the shortest path between consecutive
//!   vertices), an implicit closing edge, at least 3 distinct vertices and no self-intersection.
//!   Of the two regions the outline bounds, the smaller one is meant, so winding does not
//!   matter. A polygon may cross the antimeridian or enclose a pole.
//! * A [`Shape::Circle`] is every point within a distance along the surface of its centre.
//! * Altitude bands and time windows are closed intervals: touching counts, and a zero-width
//!   band or an instant is valid. Query volumes may leave either open ([`AltitudeRange::UNBOUNDED`],
//!   [`TimeRange::UNBOUNDED`]). Times are microseconds since the Unix epoch.
//! * Every shape must fit in a spherical cap of at most [`MAX_CAP_RADIUS_DEG`] degrees
//!   (about 4,450 km) around some centre; [`ShapeLimits`] may lower that and also bounds the
//!   vertex count and the area.
//!
//! # The promise: never a false negative
//!
//! [`intersects`] never answers `false` for two volumes that share a point of the model sphere.
//! It may answer `true` for volumes that are merely close:
//!
//! * **Polygons** (against polygons or circles): when the outlines come within
//!   [`TOLERANCE_M`] (1 cm). That slack absorbs floating-point rounding, which is many orders of
//!   magnitude smaller, so shapes that share an edge or a vertex on the sphere are always found.
//! * **Circles**: the radius is grown by the factor [`CIRCLE_RADIUS_FACTOR`] (+0.6 %) and the
//!   1 cm tolerance, so a circle may over-report by up to `0.006 * radius + 1 cm` (6 m for a
//!   1 km circle).
//!
//! Why the growth: the sphere is not the WGS84 ellipsoid. With latitude and longitude mapped
//! one to one, a distance on the ellipsoid differs from the same distance on the sphere by up
//! to about 0.56 % (the ellipsoid's meridional radius of curvature at the equator is
//! 6,335 km against the sphere's 6,371 km). A circle drawn by a client on the ellipsoid
//! therefore lies inside the sphere circle of 1.006 times its radius. Polygons are defined by
//! their vertices, which map exactly; their edges follow the sphere's great circles rather than
//! the ellipsoid's geodesics, a difference that grows with the square of the edge length
//! (see [`TOLERANCE_M`]) and that the reference DSS, which also works on a sphere, shares.
//!
//! # How the test works
//!
//! Each shape is turned into 3-D unit vectors and a bounding cap. Intervals and caps reject most
//! pairs. Two circles are compared by the distance of their centres. A circle and a polygon: the
//! centre inside the polygon, or the spherical distance from the centre to an edge arc within
//! the radius. A strictly convex polygon (up to 16 vertices) is first tried as the intersection
//! of its edges' hemispheres: a vertex of the other shape (or the circle's centre) inside
//! settles the pair, and an edge with the whole other shape more than the tolerance beyond it
//! rules the pair out, with a few dot products each. Other pairs of polygons are projected with
//! the gnomonic projection centred between their caps. It maps great circles to straight lines, so great-circle polygons become exact
//! straight-edged planar polygons, and `geo`'s robust predicates decide (edges crossing or
//! within the tolerance; otherwise one vertex of each tested for containment in the other).
//! The cap limit keeps both shapes well inside the hemisphere where that projection is valid.
//!
//! # Index
//!
//! [`SpatialIndex`] files each volume under a 4-D box (the 3-D box of its shape, and time) in an
//! R-tree, then runs the exact test, altitude included, on the candidates; its answers equal a
//! brute-force scan with [`any_intersects`].

mod covers;
mod error;
mod index;
mod planar;
mod prepared;
mod sphere;
mod volume;

pub use covers::covers;
pub use error::{AltitudeBound, Field, GeoError, PointRef};
pub use index::{SpatialIndex, Volumes};
pub use prepared::{any_intersects, intersects, PreparedVolume};
pub use volume::{AltitudeRange, LatLng, Shape, ShapeLimits, TimeRange, Volume4};

/// Radius of the model sphere in metres (the mean Earth radius).
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Distance in metres below which two outlines count as touching: the bound on over-reporting
/// for polygons. Gnomonic projection never shrinks distances, so a planar gap under this is a
/// gap under this on the sphere too.
///
/// For scale, the largest gap between a great-circle edge on the sphere and the WGS84 geodesic
/// between the same two vertices, measured at the edge midpoint (see `tests/ellipsoid.rs`), is
/// about 0.1 mm for a 1 km edge, 7 mm for 10 km, 0.66 m for 100 km and 66 m for 1,000 km
/// (it grows with the square of the length). Only edges up to about 12 km stay within this
/// tolerance of the ellipsoid; longer ones are exact on the sphere only.
pub const TOLERANCE_M: f64 = 0.01;

/// Factor by which circle radii are grown for the intersection test, to cover the difference
/// between distances on the WGS84 ellipsoid and on the model sphere (at most about 0.56 %).
pub const CIRCLE_RADIUS_FACTOR: f64 = 1.006;

/// Largest angular radius, in degrees, of the cap bounding any shape. Two shapes within this
/// limit always fit together in one hemisphere, which the gnomonic projection needs.
pub const MAX_CAP_RADIUS_DEG: f64 = 40.0;

/// Lowest altitude accepted, in metres.
pub const ALTITUDE_MIN_M: f64 = -8_000.0;

/// Highest altitude accepted, in metres.
pub const ALTITUDE_MAX_M: f64 = 100_000.0;
