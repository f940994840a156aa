//! The corridor of a route as DSS shapes: never smaller than the corridor, a little larger.
//!
//! A movement's route is a GeoJSON LineString, whose segments RFC 7946 draws straight in
//! longitude and latitude, with a corridor of `width_m` (every point within half the width of
//! the route). The DSS knows polygons with great-circle edges and circles, so:
//!
//! 1. Each segment is cut, straight in longitude and latitude, into pieces of at most
//!    [`MAX_PIECE_M`]. Over such a piece the straight line and the great-circle arc between its
//!    ends part by at most `L² tan φ / (8 R)` (L the piece length, φ the highest latitude, R the
//!    Earth's radius): 8 cm for 2 km at 45°. Twice that is added to the half-width of the piece.
//! 2. Each piece becomes a "rectangle": the four points at the (grown) half-width either side
//!    of its two ends, perpendicular to the arc. Its long edges are great-circle arcs between
//!    points at that distance from the piece's great circle, and such an arc bulges away from
//!    it, so the rectangle holds every point within the half-width whose nearest point on the
//!    arc lies between the ends.
//! 3. Each end of every piece gets a circle of the half-width, which holds the points whose
//!    nearest point is that end.
//!
//! The union is therefore never smaller than the corridor. The half-width of rectangles is
//! also grown by 0.6 % ([`deconflict_geo::CIRCLE_RADIUS_FACTOR`]), as the DSS does for circles,
//! to cover the difference between distances on the WGS84 ellipsoid and on the DSS's sphere.
//! **Tolerance:** the shapes reach beyond the corridor by at most 0.6 % of the half-width plus
//! `L² tan φ / (4 R)` + 1 cm (under 0.2 m for a 2 km piece below 60° of latitude; see
//! [`Corridor::max_overreach_m`]), plus the DSS's own 1 cm intersection tolerance.

use deconflict_geo::{LatLng, Shape, CIRCLE_RADIUS_FACTOR, EARTH_RADIUS_M};

/// Longest piece a route segment is cut into, in metres.
pub const MAX_PIECE_M: f64 = 2_000.0;

/// Pieces shorter than this get no rectangle: the circles at their ends, grown by the piece's
/// length, cover them.
const MIN_PIECE_M: f64 = 1.0;

/// Latitude used at most for the straight-versus-arc allowance (tan φ grows without bound).
const MAX_ALLOWANCE_LAT_DEG: f64 = 89.0;

/// The shapes of a corridor.
#[derive(Debug, Clone, PartialEq)]
pub struct Corridor {
    pub shapes: Vec<Shape>,
    /// How far beyond the corridor the shapes reach at most, in metres.
    pub max_overreach_m: f64,
}

type V3 = [f64; 3];

fn v3(p: LatLng) -> V3 {
    let (lat, lng) = (p.lat.to_radians(), p.lng.to_radians());
    [lat.cos() * lng.cos(), lat.cos() * lng.sin(), lat.sin()]
}

fn latlng(v: V3) -> LatLng {
    let lat = v[2].clamp(-1.0, 1.0).asin().to_degrees();
    let lng = v[1].atan2(v[0]).to_degrees();
    LatLng::new(lat, lng)
}

fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}

fn combine(a: V3, ka: f64, b: V3, kb: f64) -> V3 {
    [
        a[0] * ka + b[0] * kb,
        a[1] * ka + b[1] * kb,
        a[2] * ka + b[2] * kb,
    ]
}

/// Angle between two unit vectors, accurate for small angles.
fn angle(a: V3, b: V3) -> f64 {
    norm(cross(a, b)).atan2(dot(a, b))
}

/// Great-circle distance in metres.
pub fn distance_m(a: LatLng, b: LatLng) -> f64 {
    angle(v3(a), v3(b)) * EARTH_RADIUS_M
}

/// The route's positions with every segment cut, straight in longitude and latitude, into
/// pieces of at most [`MAX_PIECE_M`].
pub fn densify(route: &[LatLng]) -> Vec<LatLng> {
    let mut out = Vec::new();
    for w in route.windows(2) {
        let (a, b) = (w[0], w[1]);
        // Straight in degrees is not uniform in metres: a margin keeps every piece short.
        let n = ((distance_m(a, b) * 1.2 / MAX_PIECE_M).ceil() as usize).max(1);
        for i in 0..n {
            let t = i as f64 / n as f64;
            out.push(LatLng::new(
                a.lat + (b.lat - a.lat) * t,
                a.lng + (b.lng - a.lng) * t,
            ));
        }
    }
    if let Some(last) = route.last() {
        out.push(*last);
    }
    out
}

/// The shapes covering every point within `width_m / 2` of `route` (see the module
/// documentation). `route` holds at least two positions, no two consecutive ones equal, none
/// of its segments across the antimeridian, as [`crate::geometry::line`] checks.
pub fn corridor(route: &[LatLng], width_m: f64) -> Corridor {
    let half = width_m / 2.0;
    let points = densify(route);
    let mut circle_radius = vec![half; points.len()];
    let mut shapes = Vec::with_capacity(points.len() * 2);
    let mut overreach: f64 = 0.0;
    for (i, w) in points.windows(2).enumerate() {
        let (a, b) = (v3(w[0]), v3(w[1]));
        let length_m = angle(a, b) * EARTH_RADIUS_M;
        if length_m < MIN_PIECE_M {
            circle_radius[i] = circle_radius[i].max(half + length_m);
            circle_radius[i + 1] = circle_radius[i + 1].max(half + length_m);
            continue;
        }
        let lat = w[0]
            .lat
            .abs()
            .max(w[1].lat.abs())
            .min(MAX_ALLOWANCE_LAT_DEG)
            .to_radians();
        let allowance = length_m * length_m * lat.tan() / (4.0 * EARTH_RADIUS_M) + 0.01;
        let grown = half * CIRCLE_RADIUS_FACTOR + allowance;
        overreach = overreach.max(grown - half);
        let pole = cross(a, b);
        let pole = combine(pole, 1.0 / norm(pole), pole, 0.0);
        let d = grown / EARTH_RADIUS_M;
        let (c, s) = (d.cos(), d.sin());
        shapes.push(Shape::Polygon(vec![
            latlng(combine(a, c, pole, s)),
            latlng(combine(b, c, pole, s)),
            latlng(combine(b, c, pole, -s)),
            latlng(combine(a, c, pole, -s)),
        ]));
    }
    for (p, r) in points.iter().zip(circle_radius) {
        overreach = overreach.max(r - half + half * (CIRCLE_RADIUS_FACTOR - 1.0));
        shapes.push(Shape::Circle {
            center: *p,
            radius_m: r,
        });
    }
    Corridor {
        shapes,
        max_overreach_m: overreach + 0.01,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deconflict_geo::{
        intersects, AltitudeRange, PreparedVolume, ShapeLimits, TimeRange, Volume4,
    };
    use proptest::prelude::*;

    fn prepared(shape: Shape) -> PreparedVolume {
        Volume4 {
            shape,
            altitude: AltitudeRange::new(0.0, 10.0),
            time: TimeRange::new(0, 10),
        }
        .prepare(&ShapeLimits::default())
        .expect("a valid shape")
    }

    fn probe(p: LatLng) -> PreparedVolume {
        prepared(Shape::Circle {
            center: p,
            radius_m: 0.001,
        })
    }

    /// The point `d` metres from `p` on the bearing `bearing` (radians from north).
    fn destination(p: LatLng, bearing: f64, d: f64) -> LatLng {
        let (lat, lng) = (p.lat.to_radians(), p.lng.to_radians());
        let a = d / EARTH_RADIUS_M;
        let lat2 = (lat.sin() * a.cos() + lat.cos() * a.sin() * bearing.cos()).asin();
        let lng2 =
            lng + (bearing.sin() * a.sin() * lat.cos()).atan2(a.cos() - lat.sin() * lat2.sin());
        LatLng::new(lat2.to_degrees(), lng2.to_degrees())
    }

    fn bearing(a: LatLng, b: LatLng) -> f64 {
        let (la, lb) = (a.lat.to_radians(), b.lat.to_radians());
        let dl = (b.lng - a.lng).to_radians();
        (dl.sin() * lb.cos()).atan2(la.cos() * lb.sin() - la.sin() * lb.cos() * dl.cos())
    }

    /// Distance in metres from `x` to the great-circle polyline through `points`.
    fn distance_to_polyline(x: LatLng, points: &[LatLng]) -> f64 {
        let xv = v3(x);
        points
            .windows(2)
            .map(|w| {
                let (a, b) = (v3(w[0]), v3(w[1]));
                let n = cross(a, b);
                let within = dot(cross(a, xv), n) >= 0.0 && dot(cross(xv, b), n) >= 0.0;
                let d = if within && norm(n) > 0.0 {
                    (dot(xv, n) / norm(n)).abs().asin()
                } else {
                    angle(xv, a).min(angle(xv, b))
                };
                d * EARTH_RADIUS_M
            })
            .fold(f64::INFINITY, f64::min)
    }

    fn route_strategy() -> impl Strategy<Value = (Vec<LatLng>, f64)> {
        (
            -70.0f64..70.0,
            -170.0f64..170.0,
            prop::collection::vec((0.0f64..std::f64::consts::TAU, 50.0f64..30_000.0), 1..5),
            2.0f64..4_000.0,
        )
            .prop_map(|(lat, lng, legs, width)| {
                let mut route = vec![LatLng::new(lat, lng)];
                for (b, d) in legs {
                    let last = *route.last().expect("not empty");
                    route.push(destination(last, b, d));
                }
                (route, width)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Never a false negative: every point within half the width of the route (drawn
        /// straight in degrees, as RFC 7946 draws it) meets the corridor's shapes.
        #[test]
        fn every_point_of_the_corridor_is_covered(
            (route, width) in route_strategy(),
            samples in prop::collection::vec((0usize..8, 0.0f64..=1.0, -1.0f64..=1.0, 0.0f64..std::f64::consts::TAU), 20),
        ) {
            let c = corridor(&route, width);
            let shapes: Vec<_> = c.shapes.iter().cloned().map(prepared).collect();
            let half = width / 2.0;
            for (seg, t, side, any_bearing) in samples {
                let seg = seg % (route.len() - 1);
                let (a, b) = (route[seg], route[seg + 1]);
                let on_line = LatLng::new(a.lat + (b.lat - a.lat) * t, a.lng + (b.lng - a.lng) * t);
                let perpendicular = bearing(a, b) + std::f64::consts::FRAC_PI_2;
                let x = destination(on_line, perpendicular, side * half * 0.999);
                prop_assert!(shapes.iter().any(|s| intersects(s, &probe(x))), "{x:?} beside the route is not covered");
                let y = destination(a, any_bearing, half * 0.999 * side.abs());
                prop_assert!(shapes.iter().any(|s| intersects(s, &probe(y))), "{y:?} near a vertex is not covered");
            }
        }

        /// And not much more: points further than the stated overreach from the route meet
        /// none of the shapes.
        #[test]
        fn points_beyond_the_tolerance_are_not_covered(
            (route, width) in route_strategy(),
            samples in prop::collection::vec((0usize..8, 0.0f64..=1.0, 0.0f64..std::f64::consts::TAU, 0.0f64..2_000.0), 20),
        ) {
            let c = corridor(&route, width);
            let shapes: Vec<_> = c.shapes.iter().cloned().map(prepared).collect();
            let dense = densify(&route);
            let limit = width / 2.0 + c.max_overreach_m + 0.02;
            for (seg, t, b, extra) in samples {
                let seg = seg % (route.len() - 1);
                let (p, q) = (route[seg], route[seg + 1]);
                let on_line = LatLng::new(p.lat + (q.lat - p.lat) * t, p.lng + (q.lng - p.lng) * t);
                let x = destination(on_line, b, limit + 0.05 + extra);
                if distance_to_polyline(x, &dense) > limit {
                    prop_assert!(!shapes.iter().any(|s| intersects(s, &probe(x))), "{x:?} is beyond the tolerance yet covered");
                }
            }
        }
    }

    #[test]
    fn long_segments_are_cut_into_short_pieces() {
        let route = [LatLng::new(36.0, 37.0), LatLng::new(36.0, 37.5)];
        let dense = densify(&route);
        assert!(dense.len() > 20, "{}", dense.len());
        for w in dense.windows(2) {
            assert!(distance_m(w[0], w[1]) <= MAX_PIECE_M);
        }
        assert_eq!(dense.first(), route.first());
        assert_eq!(dense.last(), route.last());
        let c = corridor(&route, 200.0);
        assert_eq!(c.shapes.len(), 2 * dense.len() - 1);
        assert!(
            c.max_overreach_m < 0.2 + 0.006 * 100.0,
            "{}",
            c.max_overreach_m
        );
    }
}
