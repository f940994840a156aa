//! Validation errors for volumes and shapes.
//!
//! Every variant carries the index or bound it is about, so that the caller can point at the
//! offending field (for example `extents[0].volume.outline_polygon.vertices[3].lat`) without
//! parsing the message. Messages are sentences that name the rule that was broken.

use std::fmt;

/// Which point of a shape a coordinate error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PointRef {
    /// The vertex at this index of a polygon (0-based, in the order given).
    Vertex(usize),
    /// The centre of a circle.
    Center,
}

impl fmt::Display for PointRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointRef::Vertex(i) => write!(f, "vertex {i}"),
            PointRef::Center => f.write_str("the circle centre"),
        }
    }
}

/// Which end of an altitude range an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AltitudeBound {
    /// The lower altitude.
    Lower,
    /// The upper altitude.
    Upper,
}

impl fmt::Display for AltitudeBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AltitudeBound::Lower => "lower",
            AltitudeBound::Upper => "upper",
        })
    }
}

/// A numeric field that must be finite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// The latitude of a point.
    Latitude(PointRef),
    /// The longitude of a point.
    Longitude(PointRef),
    /// The radius of a circle.
    Radius,
    /// One end of the altitude range.
    Altitude(AltitudeBound),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Latitude(p) => write!(f, "the latitude of {p}"),
            Field::Longitude(p) => write!(f, "the longitude of {p}"),
            Field::Radius => f.write_str("the circle radius"),
            Field::Altitude(b) => write!(f, "the {b} altitude"),
        }
    }
}

/// Why a volume or shape was rejected.
///
/// Polygon edges are numbered by their first vertex: edge `i` runs from vertex `i` to vertex
/// `i + 1`, and the last edge closes the ring back to vertex 0.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum GeoError {
    /// A number is NaN or infinite.
    #[error("{field} must be a finite number")]
    NonFinite {
        /// The field holding the bad number.
        field: Field,
    },
    /// A latitude outside [-90, 90] degrees.
    #[error("the latitude of {at} is {value} degrees; latitudes must lie in [-90, 90]")]
    LatitudeOutOfRange {
        /// The point with the bad latitude.
        at: PointRef,
        /// The latitude given.
        value: f64,
    },
    /// A longitude outside [-180, 180] degrees.
    #[error("the longitude of {at} is {value} degrees; longitudes must lie in [-180, 180]")]
    LongitudeOutOfRange {
        /// The point with the bad longitude.
        at: PointRef,
        /// The longitude given.
        value: f64,
    },
    /// A polygon with fewer than three vertices.
    #[error("a polygon needs at least 3 vertices, but {count} were given")]
    TooFewVertices {
        /// Number of vertices given.
        count: usize,
    },
    /// A polygon with more vertices than the limit allows.
    #[error("a polygon may have at most {max} vertices, but {count} were given")]
    TooManyVertices {
        /// Number of vertices given.
        count: usize,
        /// The limit in force.
        max: usize,
    },
    /// The last vertex repeats the first one; the closing edge is implicit.
    #[error(
        "vertex {index} repeats vertex 0; do not close the ring, the edge from the last vertex \
         back to the first is implicit"
    )]
    ClosedRing {
        /// Index of the last vertex.
        index: usize,
    },
    /// Two vertices are the same point (closer than about 0.1 mm).
    #[error(
        "vertex {index} is the same point as vertex {duplicate_of}; vertices must be distinct"
    )]
    DuplicateVertex {
        /// Index of the later of the two vertices.
        index: usize,
        /// Index of the earlier vertex it repeats.
        duplicate_of: usize,
    },
    /// Two edges cross, touch or overlap.
    #[error(
        "edge {edge_a} and edge {edge_b} of the polygon intersect; the outline must not cross or \
         touch itself (edge i runs from vertex i to vertex i+1)"
    )]
    SelfIntersecting {
        /// The lower-numbered edge.
        edge_a: usize,
        /// The higher-numbered edge.
        edge_b: usize,
    },
    /// A circle radius that is zero or negative.
    #[error("the circle radius is {value} m; it must be greater than 0")]
    RadiusNotPositive {
        /// The radius given, in metres.
        value: f64,
    },
    /// The shape does not fit in a spherical cap of the allowed angular radius.
    #[error(
        "the shape spans {radius_deg:.3} degrees from its centre; at most {max_deg} degrees \
         (about {max_km:.0} km) is allowed"
    )]
    ShapeTooLarge {
        /// Angular radius of the shape's bounding cap, in degrees.
        radius_deg: f64,
        /// The limit in force, in degrees.
        max_deg: f64,
        /// The limit in force, in kilometres along the surface.
        max_km: f64,
    },
    /// The shape's area exceeds the limit.
    #[error("the shape's area is {km2:.3} km^2; at most {max_km2} km^2 is allowed")]
    AreaTooLarge {
        /// Area of the shape.
        km2: f64,
        /// The limit in force.
        max_km2: f64,
    },
    /// The lower altitude is above the upper altitude.
    #[error("the lower altitude {lower} m is above the upper altitude {upper} m")]
    AltitudeOrder {
        /// Lower altitude given, in metres.
        lower: f64,
        /// Upper altitude given, in metres.
        upper: f64,
    },
    /// An altitude outside the supported range.
    #[error("the {bound} altitude is {value} m; altitudes must lie in [{min}, {max}] m")]
    AltitudeOutOfRange {
        /// Which end of the range.
        bound: AltitudeBound,
        /// The altitude given, in metres.
        value: f64,
        /// Lowest allowed altitude, in metres.
        min: f64,
        /// Highest allowed altitude, in metres.
        max: f64,
    },
    /// The time window ends before it starts.
    #[error("the time window ends ({end_us} us) before it starts ({start_us} us)")]
    TimeOrder {
        /// Start, microseconds since the Unix epoch.
        start_us: i64,
        /// End, microseconds since the Unix epoch.
        end_us: i64,
    },
}
