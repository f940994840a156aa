//! Checks the model-error figures quoted in the crate documentation against WGS84 geodesics
//! (computed by `geo`'s `Geodesic`, i.e. GeographicLib).

mod common;

use common::*;
use deconflict_geo::{intersects, EARTH_RADIUS_M};
use geo::{Destination, Geodesic, InterpolatePoint, Point};

const LATS: [f64; 9] = [-89.0, -60.0, -30.0, -5.0, 0.0, 15.0, 45.0, 75.0, 89.5];

/// Destination on the WGS84 ellipsoid, as (lat, lng).
fn wgs84_destination(lat: f64, lng: f64, bearing: f64, distance_m: f64) -> (f64, f64) {
    let p = Geodesic.destination(Point::new(lng, lat), bearing, distance_m);
    (p.y(), p.x())
}

#[test]
fn a_circle_drawn_on_wgs84_is_covered_by_the_sphere_circle() {
    for lat in LATS {
        for radius in [50.0, 1_000.0, 30_000.0, 500_000.0] {
            let c = shape(circle(lat, 20.0, radius));
            for bearing in (0..360).step_by(15) {
                let bearing = f64::from(bearing);
                // A point on the WGS84 circle must be found ...
                let (plat, plng) = wgs84_destination(lat, 20.0, bearing, radius);
                let on_edge = shape(circle(plat, plng, 0.001));
                assert!(intersects(&c, &on_edge), "{lat} {radius} {bearing}");
                // ... while one 1.2 % farther out is beyond the stated over-report bound.
                let (flat, flng) = wgs84_destination(lat, 20.0, bearing, radius * 1.012);
                let beyond = shape(circle(flat, flng, 0.001));
                assert!(!intersects(&c, &beyond), "{lat} {radius} {bearing}");
            }
        }
    }
}

fn unit(lat: f64, lng: f64) -> [f64; 3] {
    let (la, lo) = (lat.to_radians(), lng.to_radians());
    [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
}

/// Largest distance in metres between the WGS84 geodesic midpoint of an edge of `length_m`
/// and the great circle through its ends, over a spread of positions and directions.
fn worst_edge_deviation(length_m: f64) -> f64 {
    let mut worst = 0.0_f64;
    for lat in (-80..=80).step_by(10) {
        for bearing in (0..180).step_by(15) {
            let a = Point::new(0.0, f64::from(lat));
            let b = Geodesic.destination(a, f64::from(bearing), length_m);
            let m = Geodesic.point_at_ratio_between(a, b, 0.5);
            let (u, v, w) = (unit(a.y(), a.x()), unit(b.y(), b.x()), unit(m.y(), m.x()));
            let n = [
                u[1] * v[2] - u[2] * v[1],
                u[2] * v[0] - u[0] * v[2],
                u[0] * v[1] - u[1] * v[0],
            ];
            let nn = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            let off = (n[0] * w[0] + n[1] * w[1] + n[2] * w[2]) / nn;
            worst = worst.max(off.abs().asin() * EARTH_RADIUS_M);
        }
    }
    worst
}

#[test]
fn great_circle_edges_stay_close_to_wgs84_geodesics_as_documented() {
    assert!(worst_edge_deviation(10_000.0) < deconflict_geo::TOLERANCE_M);
    assert!(worst_edge_deviation(100_000.0) < 0.7);
    assert!(worst_edge_deviation(1_000_000.0) < 70.0);
}
