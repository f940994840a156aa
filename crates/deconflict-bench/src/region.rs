//! The airspace the scenarios use, and the request bodies built in it.
//!
//! The seed region is a 100 km × 100 km square cut into 400 m cells. Each cell has 22 time
//! slots of one hour, 65 minutes apart, so one cell's slots cover the next ~24 h without
//! touching. Seeded intent `i` takes slot `(offset + i) · P mod S` (`P` prime to the slot count
//! `S`), which spreads consecutive intents over the whole region and day, and gives every
//! intent its own cell-and-hour: no two seeded intents intersect, so none needs a key.
//! A polygon is a hexagon 100–300 m across, inside its cell with at least 20 m to spare.
//!
//! The contention area is a separate 1 km × 1 km square south of the region; every intent put
//! there contains its centre, so all of them intersect.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use deconflict_core::wire;
use rand::Rng;

/// Metres per degree of latitude (spherical approximation, good enough for placing shapes).
const M_PER_DEG_LAT: f64 = 111_320.0;

pub const REGION_SIDE_M: f64 = 100_000.0;
pub const CELL_M: f64 = 400.0;
pub const CELLS_PER_SIDE: u64 = (REGION_SIDE_M / CELL_M) as u64;
pub const SLOTS_PER_CELL: u64 = 22;
pub const SLOT_SPACING_MIN: i64 = 65;
pub const WINDOW_MIN: i64 = 60;
/// Cells × slots: how many non-intersecting intents the region holds.
pub const CAPACITY: u64 = CELLS_PER_SIDE * CELLS_PER_SIDE * SLOTS_PER_CELL;
/// A prime that does not divide [`CAPACITY`] (= 2³·5⁶·11), so `i ↦ i·P mod CAPACITY` is a
/// permutation.
const STRIDE: u64 = 1_000_003;

// One cell's slots do not touch in time and fit in a day.
const _: () = assert!(SLOT_SPACING_MIN > WINDOW_MIN);
const _: () = assert!(SLOTS_PER_CELL as i64 * SLOT_SPACING_MIN <= 24 * 60);

pub const ALT_LOWER_M: f64 = 0.0;
pub const ALT_UPPER_M: f64 = 120.0;

/// A local flat frame: metres east and north of a south-west corner.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    pub lat0: f64,
    pub lng0: f64,
}

impl Frame {
    pub fn point(&self, east_m: f64, north_m: f64) -> wire::LatLngPoint {
        let m_per_deg_lng = M_PER_DEG_LAT * self.lat0.to_radians().cos();
        wire::LatLngPoint {
            lat: self.lat0 + north_m / M_PER_DEG_LAT,
            lng: self.lng0 + east_m / m_per_deg_lng,
        }
    }

    /// An axis-aligned rectangle, counter-clockwise.
    pub fn rect(&self, x0: f64, y0: f64, x1: f64, y1: f64) -> wire::Polygon {
        wire::Polygon {
            vertices: vec![
                self.point(x0, y0),
                self.point(x1, y0),
                self.point(x1, y1),
                self.point(x0, y1),
            ],
        }
    }

    /// A hexagon of radius `r` around (`cx`, `cy`), counter-clockwise.
    pub fn hexagon(&self, cx: f64, cy: f64, r: f64, rot: f64) -> wire::Polygon {
        wire::Polygon {
            vertices: (0..6)
                .map(|k| {
                    let a = rot + f64::from(k) * std::f64::consts::PI / 3.0;
                    self.point(cx + r * a.cos(), cy + r * a.sin())
                })
                .collect(),
        }
    }
}

/// The seed region (south-west corner at 46.0° N, 7.0° E) and the contention area 5 km south
/// of it.
pub const REGION: Frame = Frame {
    lat0: 46.0,
    lng0: 7.0,
};
pub const CONTENTION: Frame = Frame {
    lat0: 45.95,
    lng0: 7.5,
};
pub const CONTENTION_SIDE_M: f64 = 1_000.0;

pub fn time(t: DateTime<Utc>) -> wire::Time {
    wire::Time {
        value: t.to_rfc3339_opts(SecondsFormat::Millis, true),
        format: "RFC3339".to_owned(),
    }
}

pub fn altitude(m: f64) -> wire::Altitude {
    wire::Altitude {
        value: m,
        reference: "W84".to_owned(),
        units: "M".to_owned(),
    }
}

pub fn volume(poly: wire::Polygon, start: DateTime<Utc>, end: DateTime<Utc>) -> wire::Volume4D {
    wire::Volume4D {
        volume: wire::Volume3D {
            outline_circle: None,
            outline_polygon: Some(poly),
            altitude_lower: Some(altitude(ALT_LOWER_M)),
            altitude_upper: Some(altitude(ALT_UPPER_M)),
        },
        time_start: Some(time(start)),
        time_end: Some(time(end)),
    }
}

/// Where seeded intent number `n` goes: its cell (column, row) and time slot.
pub fn slot(n: u64) -> (u64, u64, u64) {
    let s = (n % CAPACITY) * STRIDE % CAPACITY;
    let cells = CELLS_PER_SIDE * CELLS_PER_SIDE;
    let cell = s % cells;
    (cell % CELLS_PER_SIDE, cell / CELLS_PER_SIDE, s / cells)
}

/// The extents of seeded intent number `n`, with slot 0 starting at `t0`.
pub fn seed_volume(n: u64, t0: DateTime<Utc>, rng: &mut impl Rng) -> wire::Volume4D {
    let (col, row, k) = slot(n);
    let r = rng.random_range(50.0..150.0);
    let margin = r + 10.0;
    let cx = col as f64 * CELL_M + rng.random_range(margin..CELL_M - margin);
    let cy = row as f64 * CELL_M + rng.random_range(margin..CELL_M - margin);
    let poly = REGION.hexagon(cx, cy, r, rng.random_range(0.0..1.0));
    let start = t0 + Duration::minutes(k as i64 * SLOT_SPACING_MIN);
    volume(poly, start, start + Duration::minutes(WINDOW_MIN))
}

/// When seeded slot 0 starts, for a seed run begun at `now`: a little ahead, so that the
/// first windows are still in the future when the queries run.
pub fn seed_t0(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::minutes(10)
}

/// A create body for `extents` in state Accepted, no subscription, with `key`.
pub fn put_body(
    extents: wire::Volume4D,
    key: Vec<String>,
) -> wire::PutOperationalIntentReferenceParameters {
    wire::PutOperationalIntentReferenceParameters {
        extents: vec![extents],
        key: Some(key),
        state: "Accepted".to_owned(),
        uss_base_url: "https://uss.bench.invalid/utm".to_owned(),
        subscription_id: None,
        new_subscription: None,
        requested_ovn_suffix: None,
    }
}

/// A query of a random `side_m` square inside the region, over a random `window` starting
/// within `day` after `from`.
pub fn random_query(
    rng: &mut impl Rng,
    from: DateTime<Utc>,
    day: Duration,
    side_m: f64,
    window: Duration,
) -> wire::QueryParameters {
    let x = rng.random_range(0.0..REGION_SIDE_M - side_m);
    let y = rng.random_range(0.0..REGION_SIDE_M - side_m);
    let span = (day - window).num_seconds().max(1);
    let start = from + Duration::seconds(rng.random_range(0..span));
    query_params(
        REGION.rect(x, y, x + side_m, y + side_m),
        start,
        start + window,
    )
}

pub fn query_params(
    poly: wire::Polygon,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> wire::QueryParameters {
    wire::QueryParameters {
        area_of_interest: Some(volume(poly, start, end)),
    }
}

/// The whole region over the next 25 hours.
pub fn whole_region(now: DateTime<Utc>) -> wire::QueryParameters {
    query_params(
        REGION.rect(0.0, 0.0, REGION_SIDE_M, REGION_SIDE_M),
        now,
        now + Duration::hours(25),
    )
}

/// A random rectangle in the contention area that contains its centre.
pub fn contention_polygon(rng: &mut impl Rng) -> wire::Polygon {
    let h = CONTENTION_SIDE_M / 2.0;
    let x0 = rng.random_range(0.0..h - 50.0);
    let y0 = rng.random_range(0.0..h - 50.0);
    let x1 = rng.random_range(h + 50.0..CONTENTION_SIDE_M);
    let y1 = rng.random_range(h + 50.0..CONTENTION_SIDE_M);
    CONTENTION.rect(x0, y0, x1, y1)
}

pub fn contention_area() -> wire::Polygon {
    CONTENTION.rect(0.0, 0.0, CONTENTION_SIDE_M, CONTENTION_SIDE_M)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn slots_are_a_permutation() {
        assert_ne!(CAPACITY % STRIDE, 0);
        // Distinct for a large prefix, and within bounds.
        let mut seen = HashSet::new();
        for n in 0..200_000 {
            let (c, r, k) = slot(n);
            assert!(c < CELLS_PER_SIDE && r < CELLS_PER_SIDE && k < SLOTS_PER_CELL);
            assert!(seen.insert((c, r, k)), "slot of {n} repeats");
        }
    }

    #[test]
    fn hexagons_stay_inside_their_cell() {
        let mut rng = rand::rng();
        let t0 = Utc::now();
        for n in 0..1000 {
            let (col, row, _) = slot(n);
            let v = seed_volume(n, t0, &mut rng);
            let p = v.volume.outline_polygon.unwrap();
            let sw = REGION.point(col as f64 * CELL_M, row as f64 * CELL_M);
            let ne = REGION.point((col + 1) as f64 * CELL_M, (row + 1) as f64 * CELL_M);
            for q in p.vertices {
                assert!(q.lat > sw.lat && q.lat < ne.lat);
                assert!(q.lng > sw.lng && q.lng < ne.lng);
            }
        }
    }
}
