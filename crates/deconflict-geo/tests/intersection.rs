//! Scenario tests of the exact intersection test and the index, through the public API.

mod common;

use common::*;
use deconflict_geo::{AltitudeRange, SpatialIndex, TimeRange, Volume4};

/// Metres per degree along a great circle of the model sphere.
const M_PER_DEG: f64 = deconflict_geo::EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

#[test]
fn squares_sharing_an_edge_intersect() {
    let a = shape(rect(0.0, 0.0, 0.01, 0.01));
    let b = shape(rect(0.0, 0.01, 0.01, 0.02));
    check(&a, &b, true);
}

#[test]
fn squares_sharing_only_a_corner_intersect() {
    let a = shape(rect(0.0, 0.0, 0.01, 0.01));
    let b = shape(rect(0.01, 0.01, 0.02, 0.02));
    check(&a, &b, true);
}

#[test]
fn vertex_touching_the_middle_of_an_edge_intersects() {
    // The equator is a great circle, so (0, 0.005) lies exactly on the bottom edge of `a`.
    let a = shape(rect(0.0, 0.0, 0.01, 0.01));
    let b = shape(polygon(&[(0.0, 0.005), (-0.01, 0.0), (-0.01, 0.01)]));
    check(&a, &b, true);
}

#[test]
fn squares_apart_do_not_intersect() {
    let a = shape(rect(0.0, 0.0, 0.01, 0.01));
    let b = shape(rect(0.0, 0.02, 0.01, 0.03));
    check(&a, &b, false);
}

#[test]
fn gap_beyond_the_tolerance_is_disjoint_and_within_it_is_reported() {
    // Edges along two meridians (great circles), 5 cm and then 5 mm apart at the equator.
    let a = shape(rect(0.0, 0.0, 0.01, 0.01));
    let five_cm = shape(rect(0.0, 0.01 + 0.05 / M_PER_DEG, 0.01, 0.02));
    check(&a, &five_cm, false);
    let five_mm = shape(rect(0.0, 0.01 + 0.005 / M_PER_DEG, 0.01, 0.02));
    check(&a, &five_mm, true);
}

#[test]
fn containment_intersects() {
    let outer = shape(rect(0.0, 0.0, 1.0, 1.0));
    let inner = shape(rect(0.4, 0.4, 0.6, 0.6));
    check(&outer, &inner, true);
}

#[test]
fn circle_inside_polygon_intersects_and_outside_does_not() {
    let square = shape(rect(10.0, 10.0, 10.1, 10.1));
    check(&square, &shape(circle(10.05, 10.05, 100.0)), true);
    // Overlapping the west edge.
    check(&square, &shape(circle(10.05, 9.9995, 200.0)), true);
    // 1 km west of the west edge, radius 500 m.
    let lng = 10.0 - 1000.0 / (M_PER_DEG * 10.05f64.to_radians().cos());
    check(&square, &shape(circle(10.05, lng, 500.0)), false);
}

#[test]
fn circles_intersect_by_centre_distance() {
    // Centres 1 km apart along the equator.
    let a = shape(circle(0.0, 0.0, 400.0));
    let lng = 1000.0 / M_PER_DEG;
    check(&a, &shape(circle(0.0, lng, 600.0)), true);
    check(&a, &shape(circle(0.0, lng, 500.0)), false);
}

#[test]
fn polygon_inside_circle_intersects() {
    let big = shape(circle(45.0, 7.0, 50_000.0));
    check(&big, &shape(rect(45.0, 7.0, 45.01, 7.01)), true);
}

#[test]
fn polygon_across_the_antimeridian() {
    let across = shape(rect(0.0, 179.9, 0.1, -179.9));
    // Inside on the east side and on the west side of the antimeridian.
    check(&across, &shape(rect(0.02, 179.95, 0.05, 179.99)), true);
    check(&across, &shape(rect(0.02, -179.99, 0.05, -179.95)), true);
    check(&across, &shape(circle(0.05, 180.0, 100.0)), true);
    // Outside: the polygon is the 0.2-degree-wide strip, not the rest of the world.
    check(&across, &shape(rect(0.02, 179.0, 0.05, 179.5)), false);
    check(&across, &shape(rect(0.02, -179.5, 0.05, -179.0)), false);
    let area = rect(0.0, 179.9, 0.1, -179.9).area_km2().unwrap();
    assert!((area - 247.3).abs() < 1.0, "{area}");
}

#[test]
fn polygon_enclosing_the_north_pole() {
    let cap = shape(polygon(&[
        (89.0, 0.0),
        (89.0, 90.0),
        (89.0, 180.0),
        (89.0, -90.0),
    ]));
    check(&cap, &shape(circle(90.0, 0.0, 1_000.0)), true);
    check(&cap, &shape(rect(89.5, 40.0, 89.6, 50.0)), true);
    check(&cap, &shape(rect(88.0, 40.0, 88.5, 50.0)), false);
    check(&cap, &shape(circle(-90.0, 0.0, 1_000.0)), false);
}

#[test]
fn circle_centred_on_a_pole() {
    let pole = shape(circle(-90.0, 123.0, 2_000.0));
    // 0.01 degree is about 1.1 km from the pole, in any longitude.
    for lng in [-179.0, -90.0, 0.0, 45.0, 179.0] {
        check(
            &pole,
            &shape(rect(-89.99, lng - 1.0, -89.985, lng + 1.0)),
            true,
        );
    }
    check(&pole, &shape(rect(-89.9, 0.0, -89.85, 5.0)), false);
}

#[test]
fn great_circle_edge_bulges_toward_the_pole() {
    // The edge from (60, -10) to (60, 10) is a great-circle arc reaching about 60.38 degrees
    // north at lng 0: a shape at 60.2 is inside the triangle, though north of the vertices.
    let triangle = shape(polygon(&[(60.0, -10.0), (60.0, 10.0), (50.0, 0.0)]));
    check(&triangle, &shape(circle(60.2, 0.0, 100.0)), true);
    check(&triangle, &shape(rect(60.2, -0.02, 60.25, 0.02)), true);
    check(&triangle, &shape(rect(60.5, -0.02, 60.55, 0.02)), false);
}

fn banded(alt: AltitudeRange, time: TimeRange) -> deconflict_geo::PreparedVolume {
    prep(Volume4 {
        shape: rect(0.0, 0.0, 0.01, 0.01),
        altitude: alt,
        time,
    })
}

#[test]
fn zero_width_altitude_band_touching_another_band_intersects() {
    let t = TimeRange::new(0, HOUR_US);
    let flat = banded(AltitudeRange::new(100.0, 100.0), t);
    check(&flat, &banded(AltitudeRange::new(50.0, 100.0), t), true);
    check(&flat, &banded(AltitudeRange::new(100.0, 100.0), t), true);
    check(&flat, &banded(AltitudeRange::new(100.001, 200.0), t), false);
}

#[test]
fn touching_time_windows_intersect() {
    let alt = AltitudeRange::new(0.0, 100.0);
    let a = banded(alt, TimeRange::new(0, 1_000));
    check(&a, &banded(alt, TimeRange::new(1_000, 2_000)), true);
    check(&a, &banded(alt, TimeRange::new(1_001, 2_000)), false);
    check(&a, &banded(alt, TimeRange::new(500, 500)), true);
}

#[test]
fn open_query_bounds_match_everything_in_that_dimension() {
    let a = banded(AltitudeRange::new(5_000.0, 6_000.0), TimeRange::new(10, 20));
    let open = banded(AltitudeRange::UNBOUNDED, TimeRange::UNBOUNDED);
    check(&a, &open, true);
    let above = banded(
        AltitudeRange {
            lower_m: Some(6_000.5),
            upper_m: None,
        },
        TimeRange {
            start_us: None,
            end_us: Some(10),
        },
    );
    check(&a, &above, false);
    let below = banded(
        AltitudeRange {
            lower_m: None,
            upper_m: Some(5_000.0),
        },
        TimeRange {
            start_us: Some(20),
            end_us: None,
        },
    );
    check(&a, &below, true);
    assert_eq!(open.altitude(), AltitudeRange::UNBOUNDED);
    assert_eq!(open.time(), TimeRange::UNBOUNDED);
}

#[test]
fn any_intersects_needs_one_pair() {
    let a = [
        shape(rect(0.0, 0.0, 0.01, 0.01)),
        shape(rect(5.0, 5.0, 5.01, 5.01)),
    ];
    let b = [shape(circle(5.005, 5.005, 10.0))];
    let c = [shape(circle(2.0, 2.0, 10.0))];
    assert!(deconflict_geo::any_intersects(&a, &b));
    assert!(!deconflict_geo::any_intersects(&a, &c));
    assert!(!deconflict_geo::any_intersects(&a, &[]));
}

#[test]
fn index_insert_replace_remove_and_query() {
    let mut index = SpatialIndex::new();
    assert!(index.is_empty());
    index.insert(1u64, vec![shape(rect(0.0, 0.0, 0.01, 0.01))]);
    index.insert(
        2u64,
        vec![
            shape(rect(1.0, 1.0, 1.01, 1.01)),
            shape(circle(0.005, 0.005, 50.0)),
        ],
    );
    index.insert(3u64, vec![shape(rect(3.0, 3.0, 3.01, 3.01))]);
    assert_eq!(index.len(), 3);

    let q = [shape(circle(0.005, 0.005, 10.0))];
    let mut hits = index.query(&q);
    hits.sort_unstable();
    assert_eq!(
        hits,
        vec![1, 2],
        "entity 2 matches once, through its second volume"
    );

    // Replacing moves entity 1 away; its old volume must no longer be found.
    index.insert(1u64, vec![shape(rect(3.0, 3.0, 3.01, 3.01))]);
    assert_eq!(index.len(), 3);
    assert_eq!(index.query(&q), vec![2]);

    assert!(index.remove(&2).is_some());
    assert!(index.remove(&2).is_none());
    assert!(index.query(&q).is_empty());
    assert_eq!(index.len(), 2);

    let mut far = index.query(&[shape(rect(3.0, 3.0, 3.001, 3.001))]);
    far.sort_unstable();
    assert_eq!(far, vec![1, 3]);
    assert_eq!(index.get(&1).map(Vec::len), Some(1));
}

#[test]
fn bulk_load_keeps_the_last_duplicate_key() {
    let index = SpatialIndex::bulk_load(vec![
        (7u32, vec![shape(rect(0.0, 0.0, 0.01, 0.01))]),
        (8u32, vec![shape(rect(0.0, 0.0, 0.01, 0.01))]),
        (7u32, vec![shape(rect(2.0, 2.0, 2.01, 2.01))]),
    ]);
    assert_eq!(index.len(), 2);
    assert_eq!(index.query(&[shape(rect(0.0, 0.0, 0.005, 0.005))]), vec![8]);
    assert_eq!(index.query(&[shape(rect(2.0, 2.0, 2.005, 2.005))]), vec![7]);
}

#[test]
fn index_finds_touching_windows_at_real_dates_and_open_entities() {
    // 2026-03-01T00:00:00Z, and a date far from the index's time origin.
    let t = 1_772_323_200_000_000_i64;
    let far = 4_000_000_000_000_000_i64;
    let at = |start: i64, end: i64, alt: AltitudeRange| {
        prep(Volume4 {
            shape: rect(0.0, 0.0, 0.01, 0.01),
            altitude: alt,
            time: TimeRange::new(start, end),
        })
    };
    let band = AltitudeRange::new(100.0, 100.0);
    let mut index = SpatialIndex::new();
    index.insert(1u8, vec![at(t, t + HOUR_US, band)]);
    index.insert(2u8, vec![at(far, far + 1, band)]);
    index.insert(
        3u8,
        vec![prep(Volume4 {
            shape: rect(0.0, 0.0, 0.01, 0.01),
            altitude: AltitudeRange::UNBOUNDED,
            time: TimeRange::UNBOUNDED,
        })],
    );
    let sorted = |mut v: Vec<u8>| {
        v.sort_unstable();
        v
    };
    let touching = at(
        t + HOUR_US,
        t + 2 * HOUR_US,
        AltitudeRange::new(100.0, 150.0),
    );
    assert_eq!(sorted(index.query(&[touching])), vec![1, 3]);
    let after = at(
        t + HOUR_US + 1,
        t + 2 * HOUR_US,
        AltitudeRange::new(100.0, 150.0),
    );
    assert_eq!(index.query(&[after]), vec![3]);
    assert_eq!(
        sorted(index.query(&[at(far + 1, far + 1, band)])),
        vec![2, 3]
    );
    let below = at(t, t + HOUR_US, AltitudeRange::new(0.0, 99.999));
    assert_eq!(index.query(&[below]), vec![3]);
}

#[test]
fn ten_thousand_vertex_outlines_validate_and_intersect() {
    // Two 10,000-vertex near-circles of 5 km radius, 10.1 km apart: rings that almost touch,
    // the worst case for the edge sweep.
    let ring = |lat: f64, lng: f64| {
        let n = 10_000;
        let vertices: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let a = f64::from(i) / f64::from(n) * std::f64::consts::TAU;
                let d = 5_000.0 / M_PER_DEG;
                (
                    lat + d * a.sin(),
                    lng + d * a.cos() / lat.to_radians().cos(),
                )
            })
            .collect();
        shape(polygon(&vertices))
    };
    let start = std::time::Instant::now();
    let a = ring(45.0, 7.0);
    let near = ring(
        45.0,
        7.0 + 10_100.0 / (M_PER_DEG * 45f64.to_radians().cos()),
    );
    let overlapping = ring(45.0, 7.0 + 9_000.0 / (M_PER_DEG * 45f64.to_radians().cos()));
    check(&a, &near, false);
    check(&a, &overlapping, true);
    check(&a, &shape(circle(45.0, 7.0, 10.0)), true);
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

/// Thousands of single inserts, replacements and removals (the tree is rebuilt in one pass
/// several times on the way) leave the index answering exactly what a scan answers.
#[test]
fn an_index_grown_one_insert_at_a_time_answers_as_a_scan() {
    let volume = |i: u32, hour: i64| {
        let (row, col) = (f64::from(i / 100), f64::from(i % 100));
        prep(Volume4 {
            shape: circle(45.0 + row * 0.002, 7.0 + col * 0.003, 150.0),
            altitude: AltitudeRange::new(0.0, 120.0),
            time: TimeRange::new(hour * HOUR_US, (hour + 1) * HOUR_US),
        })
    };
    let mut index = SpatialIndex::new();
    let mut expected = std::collections::HashMap::new();
    for i in 0..6_000u32 {
        let v = vec![volume(i, i64::from(i % 24))];
        index.insert(i, v.clone());
        expected.insert(i, v);
    }
    // Replace every fifth with one an hour later and remove every seventh.
    for i in (0..6_000u32).step_by(5) {
        let v = vec![volume(i, i64::from(i % 24) + 1)];
        index.insert(i, v.clone());
        expected.insert(i, v);
    }
    for i in (0..6_000u32).step_by(7) {
        assert!(index.remove(&i).is_some());
        expected.remove(&i);
    }
    assert_eq!(index.len(), expected.len());
    // Every entity is found by its own volume, and a removed one by nobody.
    for (k, v) in &expected {
        assert!(
            index.query(v).contains(k),
            "{k} not found by its own volume"
        );
    }
    for i in (0..6_000u32).step_by(7) {
        assert!(!index.query(&[volume(i, i64::from(i % 24))]).contains(&i));
    }
    for (lat, lng, hour) in [
        (45.01, 7.05, 3),
        (45.05, 7.2, 0),
        (45.11, 7.29, 23),
        (46.0, 7.0, 5),
    ] {
        let q = vec![prep(Volume4 {
            shape: circle(lat, lng, 2_000.0),
            altitude: AltitudeRange::new(50.0, 60.0),
            time: TimeRange::new(hour * HOUR_US, hour * HOUR_US + HOUR_US / 2),
        })];
        let mut got = index.query(&q);
        got.sort_unstable();
        let mut want: Vec<u32> = expected
            .iter()
            .filter(|(_, v)| deconflict_geo::any_intersects(&q, v))
            .map(|(k, _)| *k)
            .collect();
        want.sort_unstable();
        assert_eq!(got, want);
    }
}

/// A large polygon bulges out of the box of its vertices: the sphere between them lies farther
/// from the Earth's centre than they do. A small shape at the middle of a 30° × 30° square on
/// the equator (where the x axis leaves the sphere) lies beyond every vertex along that axis;
/// the index must still find it, both ways round.
#[test]
fn index_finds_a_small_shape_where_a_large_polygon_bulges() {
    let large = rect(-15.0, -15.0, 15.0, 15.0);
    let small = [circle(0.0, 0.0, 100.0), rect(-0.001, -0.001, 0.001, 0.001)];
    for s in small {
        let index = SpatialIndex::bulk_load(vec![(1u64, vec![shape(large.clone())])]);
        assert_eq!(index.query(&[shape(s.clone())]), vec![1]);
        let index = SpatialIndex::bulk_load(vec![(2u64, vec![shape(s)])]);
        assert_eq!(index.query(&[shape(large.clone())]), vec![2]);
    }
}
