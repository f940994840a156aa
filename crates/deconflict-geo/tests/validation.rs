//! Each validation rule, with the index or bound the caller needs to name the field.

mod common;

use common::*;
use deconflict_geo::{
    AltitudeBound, AltitudeRange, Field, GeoError, LatLng, PointRef, Shape, ShapeLimits, TimeRange,
    Volume4,
};

fn err(v: Volume4) -> GeoError {
    v.validate(&ShapeLimits::default())
        .expect_err("volume should be rejected")
}

fn shape_err(s: Shape) -> GeoError {
    err(vol(s))
}

#[test]
fn valid_extremes_are_accepted() {
    let limits = ShapeLimits::default();
    vol(polygon(&[(90.0, 0.0), (89.0, 180.0), (89.0, 90.0)]))
        .validate(&limits)
        .unwrap();
    vol(polygon(&[(0.0, 180.0), (1.0, 179.0), (-1.0, 179.0)]))
        .validate(&limits)
        .unwrap();
    vol(circle(-90.0, -180.0, 1.0)).validate(&limits).unwrap();
    let mut v = vol(rect(0.0, 0.0, 0.01, 0.01));
    v.altitude = AltitudeRange::new(-8_000.0, 100_000.0);
    v.time = TimeRange::new(5, 5);
    v.validate(&limits).unwrap();
}

#[test]
fn too_few_vertices() {
    assert_eq!(
        shape_err(polygon(&[(0.0, 0.0), (0.0, 1.0)])),
        GeoError::TooFewVertices { count: 2 }
    );
}

#[test]
fn too_many_vertices() {
    let limits = ShapeLimits {
        max_vertices: 4,
        ..ShapeLimits::default()
    };
    let e = vol(polygon(&[
        (0.0, 0.0),
        (0.0, 1.0),
        (1.0, 1.0),
        (1.0, 0.5),
        (1.0, 0.0),
    ]))
    .validate(&limits)
    .unwrap_err();
    assert_eq!(e, GeoError::TooManyVertices { count: 5, max: 4 });
}

#[test]
fn latitude_and_longitude_ranges_name_the_vertex() {
    assert_eq!(
        shape_err(polygon(&[(0.0, 0.0), (0.0, 1.0), (91.0, 1.0)])),
        GeoError::LatitudeOutOfRange {
            at: PointRef::Vertex(2),
            value: 91.0
        }
    );
    assert_eq!(
        shape_err(polygon(&[(0.0, 0.0), (0.0, -180.5), (1.0, 1.0)])),
        GeoError::LongitudeOutOfRange {
            at: PointRef::Vertex(1),
            value: -180.5
        }
    );
    assert_eq!(
        shape_err(circle(-90.01, 0.0, 10.0)),
        GeoError::LatitudeOutOfRange {
            at: PointRef::Center,
            value: -90.01
        }
    );
}

#[test]
fn non_finite_numbers() {
    assert_eq!(
        shape_err(polygon(&[(0.0, 0.0), (f64::NAN, 1.0), (1.0, 1.0)])),
        GeoError::NonFinite {
            field: Field::Latitude(PointRef::Vertex(1))
        }
    );
    assert_eq!(
        shape_err(polygon(&[(0.0, 0.0), (0.0, 1.0), (1.0, f64::INFINITY)])),
        GeoError::NonFinite {
            field: Field::Longitude(PointRef::Vertex(2))
        }
    );
    assert_eq!(
        shape_err(circle(0.0, 0.0, f64::NAN)),
        GeoError::NonFinite {
            field: Field::Radius
        }
    );
    let mut v = vol(rect(0.0, 0.0, 0.01, 0.01));
    v.altitude.upper_m = Some(f64::NAN);
    assert_eq!(
        err(v),
        GeoError::NonFinite {
            field: Field::Altitude(AltitudeBound::Upper)
        }
    );
}

#[test]
fn closing_vertex_must_not_repeat_the_first() {
    assert_eq!(
        shape_err(polygon(&[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.0, 0.0)])),
        GeoError::ClosedRing { index: 3 }
    );
}

#[test]
fn duplicate_vertices_name_both_indexes() {
    assert_eq!(
        shape_err(polygon(&[
            (0.0, 0.0),
            (0.0, 1.0),
            (1.0, 1.0),
            (0.0, 1.0),
            (1.0, 0.0)
        ])),
        GeoError::DuplicateVertex {
            index: 3,
            duplicate_of: 1
        }
    );
    // The same point written two ways: longitude 180 and -180.
    assert_eq!(
        shape_err(polygon(&[
            (0.0, 180.0),
            (1.0, 179.0),
            (0.0, -180.0),
            (-1.0, 179.0)
        ])),
        GeoError::DuplicateVertex {
            index: 2,
            duplicate_of: 0
        }
    );
    // Any longitude at a pole is the pole.
    assert_eq!(
        shape_err(polygon(&[
            (90.0, 0.0),
            (89.0, 0.0),
            (90.0, 90.0),
            (89.0, 90.0)
        ])),
        GeoError::DuplicateVertex {
            index: 2,
            duplicate_of: 0
        }
    );
}

#[test]
fn self_intersection_names_the_edges() {
    // A bow tie: edge 0 (v0-v1) crosses edge 2 (v2-v3).
    assert_eq!(
        shape_err(polygon(&[(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)])),
        GeoError::SelfIntersecting {
            edge_a: 0,
            edge_b: 2
        }
    );
    // A spike: edge 1 (v1-v2) runs back along edge 0 (v0-v1).
    assert_eq!(
        shape_err(polygon(&[(0.0, 0.0), (0.0, 2.0), (0.0, 1.0), (1.0, 1.0)])),
        GeoError::SelfIntersecting {
            edge_a: 0,
            edge_b: 1
        }
    );
    // A vertex touching a non-adjacent edge.
    let e = shape_err(polygon(&[
        (0.0, 0.0),
        (0.0, 2.0),
        (1.0, 2.0),
        (0.0, 1.0),
        (1.0, 0.0),
    ]));
    assert!(
        matches!(e, GeoError::SelfIntersecting { edge_a: 0, .. }),
        "{e:?}"
    );
}

#[test]
fn circle_radius_must_be_positive() {
    assert_eq!(
        shape_err(circle(0.0, 0.0, 0.0)),
        GeoError::RadiusNotPositive { value: 0.0 }
    );
    assert_eq!(
        shape_err(circle(0.0, 0.0, -5.0)),
        GeoError::RadiusNotPositive { value: -5.0 }
    );
}

#[test]
fn shapes_beyond_the_cap_limit_are_too_large() {
    let e = shape_err(circle(0.0, 0.0, 5_000_000.0));
    assert!(
        matches!(e, GeoError::ShapeTooLarge { max_deg, .. } if max_deg == 40.0),
        "{e:?}"
    );
    let e = shape_err(rect(-50.0, 0.0, 50.0, 10.0));
    assert!(
        matches!(e, GeoError::ShapeTooLarge { radius_deg, .. } if radius_deg > 40.0),
        "{e:?}"
    );
    // A polygon around the whole equator has no centre at all.
    let e = shape_err(polygon(&[(0.0, 0.0), (0.0, 120.0), (0.0, -120.0)]));
    assert!(matches!(e, GeoError::ShapeTooLarge { .. }), "{e:?}");
    // The caller may lower the limit.
    let limits = ShapeLimits {
        max_cap_radius_deg: 1.0,
        ..ShapeLimits::default()
    };
    let e = vol(rect(0.0, 0.0, 2.0, 2.0)).validate(&limits).unwrap_err();
    assert!(matches!(e, GeoError::ShapeTooLarge { .. }), "{e:?}");
}

#[test]
fn area_limit() {
    let limits = ShapeLimits {
        max_vertices: 1_000,
        max_area_km2: Some(10_000.0),
        ..ShapeLimits::default()
    };
    // About 111 km x 111 km = 12,360 km^2.
    let e = vol(rect(0.0, 0.0, 1.0, 1.0)).validate(&limits).unwrap_err();
    match e {
        GeoError::AreaTooLarge { km2, max_km2 } => {
            assert!((km2 - 12_364.0).abs() < 20.0, "{km2}");
            assert_eq!(max_km2, 10_000.0);
        }
        other => panic!("{other:?}"),
    }
    vol(rect(0.0, 0.0, 0.5, 0.5)).validate(&limits).unwrap();
    let e = vol(circle(0.0, 0.0, 60_000.0))
        .validate(&limits)
        .unwrap_err();
    assert!(matches!(e, GeoError::AreaTooLarge { .. }), "{e:?}");
}

#[test]
fn areas_match_closed_forms() {
    // A circle's area is the cap area; for small radii that is pi r^2.
    let a = circle(12.0, 34.0, 1_000.0).area_km2().unwrap();
    assert!((a - std::f64::consts::PI).abs() < 1e-6, "{a}");
    // Winding does not matter: the smaller region is meant.
    let ccw = polygon(&[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0)]);
    let cw = polygon(&[(1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)]);
    let (a, b) = (ccw.area_km2().unwrap(), cw.area_km2().unwrap());
    assert!((a - b).abs() < 1e-9, "{a} {b}");
    // Close to the latitude/longitude rectangle R^2 * dlng * (sin lat1 - sin lat0); the
    // great-circle top edge bulges north, so slightly more.
    let r_km = deconflict_geo::EARTH_RADIUS_M / 1000.0;
    let flat = r_km * r_km * 1f64.to_radians() * 1f64.to_radians().sin();
    assert!(a > flat && a < flat * 1.001, "{a} vs {flat}");
    // A spherical octant does not fit the 40-degree cap limit (its cap is about 55 degrees),
    // so it is rejected rather than measured.
    let octant = polygon(&[(0.0, 0.0), (0.0, 90.0), (90.0, 0.0)]);
    assert!(matches!(
        octant.area_km2(),
        Err(GeoError::ShapeTooLarge { .. })
    ));
}

#[test]
fn altitude_rules() {
    let mut v = vol(rect(0.0, 0.0, 0.01, 0.01));
    v.altitude = AltitudeRange::new(200.0, 100.0);
    assert_eq!(
        err(v.clone()),
        GeoError::AltitudeOrder {
            lower: 200.0,
            upper: 100.0
        }
    );
    v.altitude = AltitudeRange::new(-8_000.5, 100.0);
    assert_eq!(
        err(v.clone()),
        GeoError::AltitudeOutOfRange {
            bound: AltitudeBound::Lower,
            value: -8_000.5,
            min: -8_000.0,
            max: 100_000.0
        }
    );
    v.altitude = AltitudeRange {
        lower_m: None,
        upper_m: Some(100_001.0),
    };
    assert!(matches!(
        err(v),
        GeoError::AltitudeOutOfRange {
            bound: AltitudeBound::Upper,
            ..
        }
    ));
}

#[test]
fn time_must_not_end_before_it_starts() {
    let mut v = vol(rect(0.0, 0.0, 0.01, 0.01));
    v.time = TimeRange::new(10, 9);
    assert_eq!(
        err(v),
        GeoError::TimeOrder {
            start_us: 10,
            end_us: 9
        }
    );
}

#[test]
fn messages_are_sentences_naming_the_rule() {
    let cases = [
        (
            GeoError::LatitudeOutOfRange {
                at: PointRef::Vertex(3),
                value: 91.0,
            },
            "the latitude of vertex 3 is 91 degrees; latitudes must lie in [-90, 90]",
        ),
        (
            GeoError::SelfIntersecting {
                edge_a: 0,
                edge_b: 2,
            },
            "edge 0 and edge 2 of the polygon intersect",
        ),
        (
            GeoError::DuplicateVertex {
                index: 3,
                duplicate_of: 1,
            },
            "vertex 3 is the same point as vertex 1",
        ),
        (
            GeoError::NonFinite {
                field: Field::Longitude(PointRef::Center),
            },
            "the longitude of the circle centre must be a finite number",
        ),
    ];
    for (e, start) in cases {
        let msg = e.to_string();
        assert!(msg.starts_with(start), "{msg}");
    }
}

#[test]
fn shape_validate_checks_only_the_shape() {
    let s = Shape::Polygon(vec![LatLng::new(0.0, 0.0); 3]);
    assert!(matches!(
        s.validate(&ShapeLimits::default()),
        Err(GeoError::ClosedRing { index: 2 })
    ));
}
