//! Helpers shared by the integration tests: building volumes from degrees.

#![allow(dead_code)]

use deconflict_geo::{
    AltitudeRange, LatLng, PreparedVolume, Shape, ShapeLimits, TimeRange, Volume4,
};

pub const HOUR_US: i64 = 3_600_000_000;

pub fn polygon(vertices: &[(f64, f64)]) -> Shape {
    Shape::Polygon(
        vertices
            .iter()
            .map(|&(lat, lng)| LatLng::new(lat, lng))
            .collect(),
    )
}

/// An axis-aligned (in degrees) quadrilateral; its edges are great-circle arcs.
pub fn rect(lat0: f64, lng0: f64, lat1: f64, lng1: f64) -> Shape {
    polygon(&[(lat0, lng0), (lat0, lng1), (lat1, lng1), (lat1, lng0)])
}

pub fn circle(lat: f64, lng: f64, radius_m: f64) -> Shape {
    Shape::Circle {
        center: LatLng::new(lat, lng),
        radius_m,
    }
}

/// The shape over [0, 100] m and hours [0, 1].
pub fn vol(shape: Shape) -> Volume4 {
    Volume4 {
        shape,
        altitude: AltitudeRange::new(0.0, 100.0),
        time: TimeRange::new(0, HOUR_US),
    }
}

pub fn prep(v: Volume4) -> PreparedVolume {
    v.prepare(&ShapeLimits::default())
        .expect("test volume is valid")
}

pub fn shape(s: Shape) -> PreparedVolume {
    prep(vol(s))
}

/// Asserts the symmetric result of the intersection test.
pub fn check(a: &PreparedVolume, b: &PreparedVolume, expected: bool) {
    assert_eq!(
        deconflict_geo::intersects(a, b),
        expected,
        "intersects(a, b)"
    );
    assert_eq!(
        deconflict_geo::intersects(b, a),
        expected,
        "intersects(b, a)"
    );
}
