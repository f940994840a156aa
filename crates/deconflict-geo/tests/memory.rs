//! What the index keeps in memory per entity, as jemalloc counts the live heap: the 1 GiB
//! bound for 1,000,000 intents rests on it, and a change of the leaves' layout once made a
//! bulk-loaded tree keep six times what it needs (479 bytes an entity against 74).

#![cfg(not(target_env = "msvc"))]

use std::sync::Arc;

use deconflict_geo::{
    AltitudeRange, LatLng, PreparedVolume, Shape, ShapeLimits, SpatialIndex, TimeRange, Volume4,
};
use tikv_jemalloc_ctl::{epoch, stats};

// The server's allocator, so that its size classes are the ones counted.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Bytes the program holds on the heap now.
fn allocated() -> i64 {
    epoch::advance().expect("jemalloc statistics");
    stats::allocated::read().expect("jemalloc statistics") as i64
}

/// `n` hexagons about 200 m across on a 300 m grid, each for one of 24 hours.
fn entities(n: usize) -> Vec<(u64, Arc<[PreparedVolume]>)> {
    let limits = ShapeLimits::default();
    (0..n)
        .map(|i| {
            let (x, y) = ((i % 300) as f64 * 300.0, (i / 300) as f64 * 300.0);
            let at = |a: f64| {
                let (dx, dy) = (100.0 * a.cos(), 100.0 * a.sin());
                LatLng::new(47.0 + (y + dy) / 111_195.0, 8.0 + (x + dx) / 75_850.0)
            };
            let hexagon = (0..6)
                .map(|k| at(k as f64 * std::f64::consts::FRAC_PI_3))
                .collect();
            let t0 = (i % 24) as i64 * 3_600_000_000;
            let volume = Volume4 {
                shape: Shape::Polygon(hexagon),
                altitude: AltitudeRange::new(0.0, 120.0),
                time: TimeRange::new(t0, t0 + 3_600_000_000),
            }
            .prepare(&limits)
            .expect("the fixture is valid");
            (i as u64, Arc::from(vec![volume]))
        })
        .collect()
}

#[test]
fn bulk_load_allocates_about_what_it_keeps() {
    const N: usize = 100_000;
    let items = entities(N);
    let before = allocated();
    let index = SpatialIndex::bulk_load(items);
    let grown = allocated() - before;
    // The items' vector becomes the slots in place (it was counted before); the tree keeps a
    // leaf of 40 bytes and its share of the nodes, the map from key to slot 16 bytes and its
    // spare room: 88 bytes an entity in all when this was written.
    let per_entity = grown as f64 / N as f64;
    assert_eq!(index.len(), N);
    assert!(
        per_entity < 160.0,
        "the index grew the heap by {per_entity:.0} bytes per entity"
    );
}
