//! Property tests: the index agrees with brute force, the exact test never misses a shared
//! point found by an independent oracle, and the test is symmetric.
//!
//! Shapes are small (tens of metres to a few km) and clustered around a base point, so that
//! pairs overlap, touch and miss in about equal measure. Base points are drawn anywhere, next to
//! the antimeridian, or next to a pole (shapes there often enclose the pole).

mod common;

use common::HOUR_US;
use deconflict_geo::{
    any_intersects, intersects, AltitudeRange, LatLng, PreparedVolume, Shape, ShapeLimits,
    SpatialIndex, TimeRange, Volume4, EARTH_RADIUS_M,
};
use proptest::prelude::*;

type V3 = [f64; 3];

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
fn norm(a: V3) -> V3 {
    let n = dot(a, a).sqrt();
    [a[0] / n, a[1] / n, a[2] / n]
}
fn unit(p: LatLng) -> V3 {
    let (la, lo) = (p.lat.to_radians(), p.lng.to_radians());
    [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
}
fn to_lat_lng(v: V3) -> LatLng {
    LatLng::new(
        v[2].atan2(v[0].hypot(v[1])).to_degrees(),
        v[1].atan2(v[0]).to_degrees(),
    )
}
fn angle(a: V3, b: V3) -> f64 {
    let c = cross(a, b);
    dot(c, c).sqrt().atan2(dot(a, b))
}

/// The point `distance_m` from `from` at `bearing` (radians clockwise from north), on the sphere.
fn destination(from: LatLng, bearing: f64, distance_m: f64) -> LatLng {
    let c = unit(from);
    let east = if c[0].hypot(c[1]) < 1e-12 {
        [0.0, 1.0, 0.0]
    } else {
        norm(cross([0.0, 0.0, 1.0], c))
    };
    let north = cross(c, east);
    let d = distance_m / EARTH_RADIUS_M;
    let (sb, cb) = bearing.sin_cos();
    let dir = [
        cb * north[0] + sb * east[0],
        cb * north[1] + sb * east[1],
        cb * north[2] + sb * east[2],
    ];
    let (sd, cd) = d.sin_cos();
    to_lat_lng(norm([
        cd * c[0] + sd * dir[0],
        cd * c[1] + sd * dir[1],
        cd * c[2] + sd * dir[2],
    ]))
}

/// A generated shape that remembers how it was made, for the point sampler.
#[derive(Clone, Debug)]
enum Gen {
    /// A polygon star-shaped around `center` (consecutive vertices less than 180 degrees apart
    /// as seen from it), so every fan triangle (center, v_i, v_i+1) lies inside.
    Star {
        center: LatLng,
        vertices: Vec<LatLng>,
    },
    Circle {
        center: LatLng,
        radius_m: f64,
    },
}

impl Gen {
    fn shape(&self) -> Shape {
        match self {
            Gen::Star { vertices, .. } => Shape::Polygon(vertices.clone()),
            Gen::Circle { center, radius_m } => Shape::Circle {
                center: *center,
                radius_m: *radius_m,
            },
        }
    }
}

fn base_point() -> impl Strategy<Value = LatLng> {
    prop_oneof![
        (-80.0..80.0f64, -180.0..180.0f64).prop_map(|(a, o)| LatLng::new(a, o)),
        (-60.0..60.0f64, prop::bool::ANY, 0.0..0.02f64)
            .prop_map(|(a, east, d)| { LatLng::new(a, if east { 180.0 - d } else { -180.0 + d }) }),
        (prop::bool::ANY, 0.0..0.02f64, -180.0..180.0f64)
            .prop_map(|(north, d, o)| { LatLng::new(if north { 90.0 - d } else { -90.0 + d }, o) }),
    ]
}

/// A shape within about 2 km of `base`.
fn shape_near(base: LatLng) -> impl Strategy<Value = Gen> {
    let offset = (0.0..std::f64::consts::TAU, 0.0..2_000.0f64);
    let star = (
        offset.clone(),
        20.0..1_500.0f64,
        prop::collection::vec((1.0..1.9f64, 0.3..1.0f64), 3..=8),
        0.0..std::f64::consts::TAU,
    )
        .prop_map(move |((b, d), size, steps, start)| {
            let center = destination(base, b, d);
            let total: f64 = steps.iter().map(|s| s.0).sum();
            let mut a = start;
            let vertices = steps
                .iter()
                .map(|&(step, r)| {
                    a += step / total * std::f64::consts::TAU;
                    destination(center, a, r * size)
                })
                .collect();
            Gen::Star { center, vertices }
        });
    // Small circles too, so that some lie wholly inside a polygon.
    let radius = prop_oneof![1.0..30.0f64, 5.0..1_500.0f64];
    let circle = (offset, radius).prop_map(move |((b, d), radius_m)| Gen::Circle {
        center: destination(base, b, d),
        radius_m,
    });
    prop_oneof![3 => star, 1 => circle]
}

/// Altitude bands and time windows from a few values, so that touching and zero-width ones occur.
fn band() -> impl Strategy<Value = (AltitudeRange, TimeRange)> {
    (0..3u8, 0..3u8, 0..4i64, 0..3i64).prop_map(|(lo, w, start, len)| {
        let lo = f64::from(lo) * 50.0;
        (
            AltitudeRange::new(lo, lo + f64::from(w) * 25.0),
            TimeRange::new(start * HOUR_US, (start + len) * HOUR_US),
        )
    })
}

fn prepare(g: &Gen, (altitude, time): (AltitudeRange, TimeRange)) -> Option<PreparedVolume> {
    Volume4 {
        shape: g.shape(),
        altitude,
        time,
    }
    .prepare(&ShapeLimits::default())
    .ok()
}

/// Whether unit vector `p` lies in the polygon, by the winding number on the sphere (no
/// projection involved): the signed angles the edges subtend at `p` add up to ±2π inside.
fn in_polygon(p: V3, vertices: &[LatLng]) -> bool {
    let pts: Vec<V3> = vertices.iter().map(|v| unit(*v)).collect();
    let mean = pts
        .iter()
        .fold([0.0; 3], |s, v| [s[0] + v[0], s[1] + v[1], s[2] + v[2]]);
    if dot(mean, p) <= 0.0 {
        // The winding number cannot tell p from its antipode.
        return false;
    }
    let tangent = |a: V3| {
        let k = dot(p, a);
        [a[0] - k * p[0], a[1] - k * p[1], a[2] - k * p[2]]
    };
    let total: f64 = (0..pts.len())
        .map(|i| {
            let (ta, tb) = (tangent(pts[i]), tangent(pts[(i + 1) % pts.len()]));
            dot(p, cross(ta, tb)).atan2(dot(ta, tb))
        })
        .sum();
    total.abs() > std::f64::consts::PI
}

fn contains(g: &Gen, p: V3) -> bool {
    match g {
        Gen::Star { vertices, .. } => in_polygon(p, vertices),
        Gen::Circle { center, radius_m } => angle(unit(*center), p) * EARTH_RADIUS_M <= *radius_m,
    }
}

/// Points inside `g`, from barycentric-style weights: inside the fan triangles of a star,
/// or at fractions of the radius of a circle.
fn samples(g: &Gen, weights: &[(f64, f64, f64)]) -> Vec<V3> {
    match g {
        Gen::Star { center, vertices } => {
            let c = unit(*center);
            let n = vertices.len();
            let mut out = vec![c];
            for (k, &(w0, w1, w2)) in weights.iter().enumerate() {
                let (a, b) = (unit(vertices[k % n]), unit(vertices[(k + 1) % n]));
                out.push(norm([
                    w0 * c[0] + w1 * a[0] + w2 * b[0],
                    w0 * c[1] + w1 * a[1] + w2 * b[1],
                    w0 * c[2] + w1 * a[2] + w2 * b[2],
                ]));
            }
            out
        }
        Gen::Circle { center, radius_m } => {
            let mut out = vec![unit(*center)];
            for &(w0, w1, _) in weights {
                let bearing = w0 * std::f64::consts::TAU;
                out.push(unit(destination(*center, bearing, w1 * 0.999 * radius_m)));
            }
            out
        }
    }
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(192))]

    /// The index finds exactly what a brute-force scan finds, whether built in bulk or by
    /// inserts, and after removals.
    #[test]
    fn index_query_equals_brute_force(
        (entities, queries) in base_point().prop_flat_map(|b| (
            prop::collection::vec(prop::collection::vec((shape_near(b), band()), 1..=3), 5..40),
            prop::collection::vec(prop::collection::vec((shape_near(b), band()), 1..=2), 1..6),
        )),
    ) {
        let items: Vec<(u32, Vec<PreparedVolume>)> = (0u32..)
            .zip(&entities)
            .map(|(key, vols)| (key, vols.iter().filter_map(|(g, b)| prepare(g, *b)).collect()))
            .collect();
        let bulk = SpatialIndex::bulk_load(items.clone());
        let mut incremental = SpatialIndex::new();
        for (k, v) in &items {
            incremental.insert(*k, v.clone());
        }
        // Remove every third entity from the incremental index (and from the expectation).
        let mut live = items.clone();
        for (k, _) in items.iter().step_by(3) {
            prop_assert!(incremental.remove(k).is_some());
        }
        live.retain(|(k, _)| k % 3 != 0);
        prop_assert_eq!(incremental.len(), live.len());

        for q in &queries {
            let q: Vec<_> = q.iter().filter_map(|(g, b)| prepare(g, *b)).collect();
            let brute = |set: &[(u32, Vec<PreparedVolume>)]| {
                let mut keys: Vec<u32> = set
                    .iter()
                    .filter(|(_, v)| any_intersects(&q, v))
                    .map(|(k, _)| *k)
                    .collect();
                keys.sort_unstable();
                keys
            };
            let mut got = bulk.query(&q);
            got.sort_unstable();
            prop_assert_eq!(&got, &brute(&items));
            let mut got = incremental.query(&q);
            got.sort_unstable();
            prop_assert_eq!(&got, &brute(&live));
        }
    }

    /// If a point of A lies in B by an independent oracle (winding number on the sphere,
    /// great-circle distance for circles), the exact test must report an intersection, both ways.
    #[test]
    fn never_misses_a_shared_point(
        (a, b) in base_point().prop_flat_map(|p| (shape_near(p), shape_near(p))),
        weights in prop::collection::vec((0.01..1.0f64, 0.01..1.0f64, 0.01..1.0f64), 1..24),
    ) {
        let band = (AltitudeRange::new(0.0, 10.0), TimeRange::new(0, HOUR_US));
        let (Some(pa), Some(pb)) = (prepare(&a, band), prepare(&b, band)) else {
            return Err(TestCaseError::reject("invalid generated shape"));
        };
        let shared = samples(&a, &weights).into_iter().any(|p| contains(&b, p))
            || samples(&b, &weights).into_iter().any(|p| contains(&a, p));
        if shared {
            prop_assert!(intersects(&pa, &pb), "A: {:?}\nB: {:?}", a, b);
            prop_assert!(intersects(&pb, &pa));
        }
    }

    /// Volumes the exact test calls intersecting have overlapping `index_bounds` (what a SQL
    /// store pre-filters on), and every bound is finite and ordered.
    #[test]
    fn intersecting_volumes_have_overlapping_index_bounds(
        (a, b) in base_point().prop_flat_map(|p| (
            (shape_near(p), band()),
            (shape_near(p), band()),
        )),
    ) {
        let (Some(pa), Some(pb)) = (prepare(&a.0, a.1), prepare(&b.0, b.1)) else {
            return Err(TestCaseError::reject("invalid generated shape"));
        };
        let ((alo, ahi), (blo, bhi)) = (pa.index_bounds(), pb.index_bounds());
        for i in 0..5 {
            prop_assert!(alo[i].is_finite() && ahi[i].is_finite() && alo[i] <= ahi[i]);
        }
        if intersects(&pa, &pb) {
            for i in 0..5 {
                prop_assert!(alo[i] <= bhi[i] && blo[i] <= ahi[i], "axis {}", i);
            }
        }
    }

    /// intersects(a, b) == intersects(b, a), bands included.
    #[test]
    fn intersection_is_symmetric(
        (a, b) in base_point().prop_flat_map(|p| (
            (shape_near(p), band()),
            (shape_near(p), band()),
        )),
    ) {
        let (Some(pa), Some(pb)) = (prepare(&a.0, a.1), prepare(&b.0, b.1)) else {
            return Err(TestCaseError::reject("invalid generated shape"));
        };
        prop_assert_eq!(intersects(&pa, &pb), intersects(&pb, &pa));
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Generated stars are valid: the generator, not the validator, is what is being checked
    /// here, so that the other properties are not quietly running on rejected shapes.
    #[test]
    fn generated_shapes_are_valid(g in base_point().prop_flat_map(shape_near)) {
        let band = (AltitudeRange::new(0.0, 10.0), TimeRange::new(0, 1));
        prop_assert!(prepare(&g, band).is_some(), "{:?}", g);
    }
}
