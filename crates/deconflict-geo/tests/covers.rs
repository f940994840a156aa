//! Coverage of one volume by another: what a subscription must do for the intents relying on it.

use deconflict_geo::{
    covers, AltitudeRange, LatLng, PreparedVolume, Shape, ShapeLimits, TimeRange, Volume4,
};

fn vol(shape: Shape, alt: (f64, f64), time: (i64, i64)) -> PreparedVolume {
    Volume4 {
        shape,
        altitude: AltitudeRange::new(alt.0, alt.1),
        time: TimeRange::new(time.0, time.1),
    }
    .prepare(&ShapeLimits::default())
    .expect("valid volume")
}

fn square(lat: f64, lng: f64, half: f64) -> Shape {
    Shape::Polygon(vec![
        LatLng::new(lat - half, lng - half),
        LatLng::new(lat - half, lng + half),
        LatLng::new(lat + half, lng + half),
        LatLng::new(lat + half, lng - half),
    ])
}

fn circle(lat: f64, lng: f64, r: f64) -> Shape {
    Shape::Circle {
        center: LatLng::new(lat, lng),
        radius_m: r,
    }
}

const T: (i64, i64) = (0, 3_600_000_000);
const A: (f64, f64) = (0.0, 120.0);

#[test]
fn a_volume_covers_itself_and_a_smaller_one_inside() {
    let big = vol(square(10.0, 10.0, 0.01), A, T);
    assert!(covers(&big, &big));
    assert!(covers(&big, &vol(square(10.0, 10.0, 0.005), A, T)));
    assert!(covers(&big, &vol(circle(10.0, 10.0, 300.0), A, T)));
    let c = vol(circle(10.0, 10.0, 5_000.0), A, T);
    assert!(covers(&c, &c));
    assert!(covers(&c, &vol(square(10.0, 10.0, 0.01), A, T)));
    assert!(covers(&c, &vol(circle(10.001, 10.0, 1_000.0), A, T)));
}

#[test]
fn anything_sticking_out_is_not_covered() {
    let big = vol(square(10.0, 10.0, 0.01), A, T);
    // Shifted so one side leaves the square.
    assert!(!covers(&big, &vol(square(10.0, 10.008, 0.005), A, T)));
    // A circle whose centre is inside but whose edge crosses the side.
    assert!(!covers(&big, &vol(circle(10.0, 10.009, 500.0), A, T)));
    // Disjoint.
    assert!(!covers(&big, &vol(square(11.0, 10.0, 0.001), A, T)));
    // Larger does not fit in smaller.
    assert!(!covers(&vol(square(10.0, 10.0, 0.005), A, T), &big));
    let c = vol(circle(10.0, 10.0, 1_000.0), A, T);
    assert!(!covers(&c, &vol(square(10.0, 10.0, 0.01), A, T)));
    assert!(!covers(&c, &vol(circle(10.0, 10.0, 2_000.0), A, T)));
}

#[test]
fn altitude_and_time_must_be_covered_too() {
    let big = vol(square(10.0, 10.0, 0.01), A, T);
    let small = square(10.0, 10.0, 0.001);
    assert!(covers(&big, &vol(small.clone(), (10.0, 100.0), (5, 10))));
    assert!(!covers(&big, &vol(small.clone(), (-1.0, 100.0), T)));
    assert!(!covers(&big, &vol(small.clone(), (0.0, 121.0), T)));
    assert!(!covers(&big, &vol(small.clone(), A, (-1, 10))));
    assert!(!covers(&big, &vol(small, A, (0, T.1 + 1))));
}

#[test]
fn coverage_across_the_antimeridian_and_at_a_pole() {
    let strip = vol(
        Shape::Polygon(vec![
            LatLng::new(-1.0, 179.0),
            LatLng::new(-1.0, -179.0),
            LatLng::new(1.0, -179.0),
            LatLng::new(1.0, 179.0),
        ]),
        A,
        T,
    );
    let across = Shape::Polygon(vec![
        LatLng::new(-0.1, 179.9),
        LatLng::new(-0.1, -179.9),
        LatLng::new(0.1, -179.9),
        LatLng::new(0.1, 179.9),
    ]);
    assert!(covers(&strip, &vol(across, A, T)));
    assert!(covers(&strip, &vol(circle(0.0, -179.5, 1_000.0), A, T)));
    assert!(!covers(&strip, &vol(square(0.0, 178.9, 0.2), A, T)));
    let polar = vol(circle(90.0, 0.0, 100_000.0), A, T);
    assert!(covers(&polar, &vol(square(89.9, 45.0, 0.01), A, T)));
}
