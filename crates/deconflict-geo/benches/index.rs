//! Index benchmarks on a realistic fixture: small polygons (4–8 vertices, about 200 m across)
//! with altitude bands and 1 h time windows spread over 24 h, scattered over a
//! 100 km × 100 km region. Measures a 2 km × 2 km × 1 h query against 100,000 entities, the
//! exact pair test, preparation, and bulk loading 1,000,000 entities.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use deconflict_geo::{
    intersects, AltitudeRange, LatLng, PreparedVolume, Shape, ShapeLimits, SpatialIndex, TimeRange,
    Volume4,
};

const HOUR_US: i64 = 3_600_000_000;
const M_PER_DEG: f64 = 111_195.08;
const BASE_LAT: f64 = 47.0;
const BASE_LNG: f64 = 8.0;

/// SplitMix64: a fixed, dependency-free generator so every run measures the same fixture.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

/// Offset in metres east/north of the base point, as a point.
fn at(east_m: f64, north_m: f64) -> LatLng {
    let lat = BASE_LAT + north_m / M_PER_DEG;
    LatLng::new(
        lat,
        BASE_LNG + east_m / (M_PER_DEG * lat.to_radians().cos()),
    )
}

fn entity(rng: &mut Rng) -> Volume4 {
    let mut v = drone_entity(rng);
    let lo = rng.range(0.0, 300.0).floor();
    v.altitude = AltitudeRange::new(lo, lo + 50.0);
    v
}

/// An entity in the band small drones share: 0–120 m, like every intent of the HTTP load run.
fn drone_entity(rng: &mut Rng) -> Volume4 {
    let (cx, cy) = (rng.range(0.0, 100_000.0), rng.range(0.0, 100_000.0));
    let n = 4 + (rng.next() % 5) as usize;
    let start = rng.range(0.0, std::f64::consts::TAU);
    let vertices = (0..n)
        .map(|i| {
            let a = start + (i as f64 + rng.range(-0.3, 0.3)) / n as f64 * std::f64::consts::TAU;
            let r = rng.range(70.0, 100.0);
            at(cx + r * a.cos(), cy + r * a.sin())
        })
        .collect();
    let t0 = (rng.range(0.0, 23.0) * HOUR_US as f64) as i64;
    Volume4 {
        shape: Shape::Polygon(vertices),
        altitude: AltitudeRange::new(0.0, 120.0),
        time: TimeRange::new(t0, t0 + HOUR_US),
    }
}

/// An entity as the server files it: its volumes behind a shared handle.
type Entity = Arc<[PreparedVolume]>;

fn prepared_entities(count: u64, seed: u64) -> Vec<(u64, Entity)> {
    prepared_with(count, seed, entity)
}

fn prepared_with(count: u64, seed: u64, make: fn(&mut Rng) -> Volume4) -> Vec<(u64, Entity)> {
    let mut rng = Rng(seed);
    let limits = ShapeLimits::default();
    (0..count)
        .map(|k| {
            let v = make(&mut rng).prepare(&limits).expect("fixture is valid");
            (k, Arc::from(vec![v]))
        })
        .collect()
}

/// A 2 km × 2 km box in the middle of the region, 0–400 m, hours 10–11.
fn query_box() -> PreparedVolume {
    query_at(49_000.0, 49_000.0, 10 * HOUR_US)
}

/// A 2 km × 2 km × 1 h box, 0–400 m, its south-west corner at `(x, y)`, from `t0`.
fn query_at(x: f64, y: f64, t0: i64) -> PreparedVolume {
    Volume4 {
        shape: Shape::Polygon(vec![
            at(x, y),
            at(x + 2_000.0, y),
            at(x + 2_000.0, y + 2_000.0),
            at(x, y + 2_000.0),
        ]),
        altitude: AltitudeRange::new(0.0, 400.0),
        time: TimeRange::new(t0, t0 + HOUR_US),
    }
    .prepare(&ShapeLimits::default())
    .expect("query is valid")
}

/// What the HTTP load run asks: every entity in the 0–120 m band, and each query a new
/// random box, so that the walk reads nodes that are not in the cache from the last query.
fn bench_random_queries(c: &mut Criterion) {
    let index = SpatialIndex::bulk_load(prepared_with(100_000, 11, drone_entity));
    let mut rng = Rng(12);
    let queries: Vec<[PreparedVolume; 1]> = (0..4096)
        .map(|_| {
            let (x, y) = (rng.range(0.0, 98_000.0), rng.range(0.0, 98_000.0));
            [query_at(
                x,
                y,
                (rng.range(0.0, 23.0) * HOUR_US as f64) as i64,
            )]
        })
        .collect();
    let hits: usize = queries.iter().map(|q| index.query(q).len()).sum();
    eprintln!("mean hits: {:.2}", hits as f64 / queries.len() as f64);
    let cand = std::cell::Cell::new(0usize);
    for q in &queries {
        index.for_each_hit_where(
            q,
            |_| {
                cand.set(cand.get() + 1);
                true
            },
            |_, _| {},
        );
    }
    eprintln!(
        "mean candidates: {:.2}",
        cand.get() as f64 / queries.len() as f64
    );
    let mut next = queries.iter().cycle();
    c.bench_function(
        "query random 2km x 2km x 1h boxes among 100k in 0-120 m",
        |b| b.iter(|| black_box(index.query(black_box(next.next().expect("cycle"))))),
    );
}

fn bench_query(c: &mut Criterion) {
    let items = prepared_entities(100_000, 1);
    let index = SpatialIndex::bulk_load(items);
    let q = [query_box()];
    eprintln!("query hits: {}", index.query(&q).len());
    c.bench_function("query 2km x 2km x 1h among 100k", |b| {
        b.iter(|| black_box(index.query(black_box(&q))))
    });
    let open = [Volume4 {
        altitude: AltitudeRange::UNBOUNDED,
        time: TimeRange::UNBOUNDED,
        ..entity(&mut Rng(7))
    }
    .prepare(&ShapeLimits::default())
    .expect("valid")];
    c.bench_function(
        "query 200 m polygon, open altitude and time, among 100k",
        |b| b.iter(|| black_box(index.query(black_box(&open)))),
    );
}

fn bench_pair(c: &mut Criterion) {
    let limits = ShapeLimits::default();
    let base = entity(&mut Rng(3));
    let a = base.prepare(&limits).expect("valid");
    // The same polygon 150 m further east: the caps overlap, so the full polygon test runs.
    let mut moved = base.clone();
    if let Shape::Polygon(vs) = &mut moved.shape {
        for p in vs {
            p.lng += 150.0 / (M_PER_DEG * p.lat.to_radians().cos());
        }
    }
    let b = moved.prepare(&limits).expect("valid");
    c.bench_function("intersects: two nearby 200 m polygons", |bch| {
        bch.iter(|| black_box(intersects(black_box(&a), black_box(&b))))
    });
    let v = entity(&mut Rng(5));
    c.bench_function("prepare: 4-8 vertex polygon", |bch| {
        bch.iter(|| black_box(black_box(&v).prepare(&limits)))
    });
}

fn bench_bulk_load(c: &mut Criterion) {
    let items = prepared_entities(1_000_000, 2);
    let mut group = c.benchmark_group("bulk_load");
    group.sample_size(10);
    group.bench_function("1,000,000 entities", |b| {
        b.iter_batched(
            || items.clone(),
            |items| black_box(SpatialIndex::bulk_load(items)),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_query,
    bench_random_queries,
    bench_pair,
    bench_bulk_load
);
criterion_main!(benches);
