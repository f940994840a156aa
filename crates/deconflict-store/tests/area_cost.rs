//! What an area look-up costs on PostgreSQL with 100,000 operational intents: a measurement,
//! not a check, so it is ignored by default. Run it with
//!
//! ```text
//! scripts/pg.sh cargo test --release -p deconflict-store --test area_cost -- --ignored --nocapture
//! ```
//!
//! Seen on PostgreSQL 15, 2 shared cores, with the fixed-shape statement prepared once per
//! connection, batched writes and single-statement reads: seeding 2.8 s; a read with one point
//! query 0.05 ms; 500 m look-up 1.1-1.2 ms; 2 km 0.9-1.3 ms (6.0 found, 484 index entries
//! read, 50 index scans); 20 km 5-7 ms (144 found). Before (commit 7c05515: a `UNION ALL` of
//! literals planned per query, a transaction per read, one insert per entity): seeding 86 s;
//! point read 0.29 ms; 500 m 5.8 ms; 2 km 6.7 ms; 20 km 14.4 ms. See `area.rs`.

// Helpers panic on failure: this is a test binary.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::fresh_db;
use deconflict_core::ids::{EntityId, Ovn};
use deconflict_core::model::{OiState, OperationalIntent, Timestamp};
use deconflict_core::parse::stored_extents;
use deconflict_core::store::{read, write, Change};
use deconflict_geo::{AltitudeRange, LatLng, Shape, TimeRange, Volume4};
use deconflict_store::PostgresStore;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A volume around (47, 8) within about 100 km, `size_m` across, in the next 12 hours.
fn volume(rng: &mut StdRng, now: Timestamp, size_m: f64) -> Volume4 {
    let lat = 47.0 + rng.random_range(-0.9..0.9);
    let lng = 8.0 + rng.random_range(-1.3..1.3);
    let start = now + chrono::Duration::minutes(rng.random_range(0..720));
    let shape = if rng.random_bool(0.5) {
        Shape::Circle {
            center: LatLng::new(lat, lng),
            radius_m: size_m / 2.0,
        }
    } else {
        let d = size_m / 2.0 / 111_195.0;
        Shape::Polygon(vec![
            LatLng::new(lat - d, lng - d),
            LatLng::new(lat - d, lng + d),
            LatLng::new(lat + d, lng + d),
            LatLng::new(lat + d, lng - d),
        ])
    };
    Volume4 {
        shape,
        altitude: AltitudeRange::new(0.0, 120.0),
        time: TimeRange::new(
            start.timestamp_micros(),
            (start + chrono::Duration::minutes(rng.random_range(10..120))).timestamp_micros(),
        ),
    }
}

fn stats(url: &str) -> (i64, i64) {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let r = c
        .query_one(
            "SELECT idx_scan, idx_tup_read FROM pg_stat_user_indexes \
             WHERE indexrelname = 'volumes_area'",
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

#[test]
#[ignore = "a measurement: seeds 100,000 intents"]
fn area_lookup_cost_with_100k_intents() {
    let Some(db) = fresh_db("area_lookup_cost_with_100k_intents") else {
        return;
    };
    let store = PostgresStore::open(&db.url).unwrap();
    let now = Utc::now();
    let mut rng = StdRng::seed_from_u64(11);
    let n = 100_000;
    let started = Instant::now();
    for _ in 0..n / 1000 {
        let batch: Vec<Arc<OperationalIntent>> = (0..1000)
            .map(|_| {
                // Mostly small intents (50 m to 2 km), a few large ones (to 20 km).
                let size = if rng.random_bool(0.95) {
                    rng.random_range(50.0..2_000.0)
                } else {
                    rng.random_range(2_000.0..20_000.0)
                };
                let v = volume(&mut rng, now, size);
                Arc::new(OperationalIntent {
                    id: EntityId::parse(&uuid::Uuid::new_v4().to_string()).unwrap(),
                    manager: "uss1".into(),
                    version: 1,
                    ovn: Ovn(format!("{:032x}", rng.random::<u128>())),
                    state: OiState::Accepted,
                    uss_base_url: "https://uss.example/u".into(),
                    subscription_id: None,
                    extents: stored_extents(vec![v]).unwrap(),
                })
            })
            .collect();
        write(&store, |tx| {
            for e in &batch {
                tx.apply(Change::PutOperationalIntent(e.clone()))?;
            }
            Ok(())
        })
        .unwrap();
    }
    eprintln!("seeded {n} intents in {:.1?}", started.elapsed());
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    c.batch_execute("ANALYZE").unwrap();

    // What every read costs besides the area look-up itself: a pooled connection, BEGIN, one
    // point query, COMMIT.
    let started = Instant::now();
    for _ in 0..200 {
        read(&store, |tx| tx.availability("uss1")).unwrap();
    }
    eprintln!(
        "a read with one point query: {:.2?}",
        started.elapsed() / 200
    );

    for (label, size) in [
        ("500 m (a small intent's key check)", 500.0),
        ("2 km", 2_000.0),
        ("20 km (a city subscription)", 20_000.0),
    ] {
        let queries: Vec<_> = (0..200)
            .map(|_| stored_extents(vec![volume(&mut rng, now, size)]).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(1_500));
        let before = stats(&db.url);
        let started = Instant::now();
        let mut found = 0;
        for q in &queries {
            found += read(&store, |tx| tx.operational_intents_in(&q.prepared))
                .unwrap()
                .len();
        }
        let per = started.elapsed() / queries.len() as u32;
        std::thread::sleep(Duration::from_millis(1_500));
        let after = stats(&db.url);
        eprintln!(
            "{label}: {per:.2?} per query, {:.1} intents found, {:.1} index entries read, \
             {:.0} index scans",
            found as f64 / queries.len() as f64,
            (after.1 - before.1) as f64 / queries.len() as f64,
            (after.0 - before.0) as f64 / queries.len() as f64,
        );
    }
}
