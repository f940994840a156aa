//! The store contract, one test body per property, run against every backend: embedded SQLite
//! and PostgreSQL (a fresh database per test on the server in `DECONFLICT_TEST_POSTGRES`).
//!
//! Durability across reopen, atomic check-then-write under concurrency, reads that see the
//! transaction's own changes, area look-ups equal to a brute-force scan, and expiry.

// Helpers panic on failure: this is a test binary.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Barrier};

use chrono::{Duration, Utc};
use common::{caller, create, fresh_db, TestDb};
use deconflict_core::ids::{EntityId, Ovn};
use deconflict_core::model::{Document, OiState, OperationalIntent, Timestamp};
use deconflict_core::parse::{self, stored_extents};
use deconflict_core::rules::operational_intents as ois;
use deconflict_core::store::{read, read_staged, write, Change, Store};
use deconflict_core::DssError;
use deconflict_geo::{any_intersects, AltitudeRange, LatLng, Shape, TimeRange, Volume4};
use deconflict_store::{PostgresStore, SqliteStore};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A place to open a store, fresh for each test, that can be opened again.
trait Backend: Sized {
    type S: Store + 'static;
    fn fresh(test: &str) -> Option<Self>;
    fn open(&self) -> Self::S;
    fn counts(store: &Self::S) -> (usize, usize, usize);
    /// Writes run again after a serialization failure (none on SQLite).
    fn retries(_store: &Self::S) -> u64 {
        0
    }
}

struct Sqlite(tempfile::TempDir);

impl Backend for Sqlite {
    type S = SqliteStore;
    fn fresh(_: &str) -> Option<Self> {
        Some(Self(tempfile::tempdir().expect("a temporary folder")))
    }
    fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.0.path().join("dss.db")).expect("open SQLite")
    }
    fn counts(store: &SqliteStore) -> (usize, usize, usize) {
        store.counts().expect("counts")
    }
}

struct Pg(TestDb);

impl Backend for Pg {
    type S = PostgresStore;
    fn fresh(test: &str) -> Option<Self> {
        fresh_db(test).map(Self)
    }
    fn open(&self) -> PostgresStore {
        PostgresStore::open(&self.0.url).expect("open PostgreSQL")
    }
    fn counts(store: &PostgresStore) -> (usize, usize, usize) {
        store.counts().expect("counts")
    }
    fn retries(store: &PostgresStore) -> u64 {
        store.retries()
    }
}

macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[test]
                fn $name() {
                    if let Some(b) = <super::Sqlite as super::Backend>::fresh(stringify!($name)) {
                        super::$name(b);
                    }
                }
            )*
        }
        mod on_postgres {
            $(
                #[test]
                fn $name() {
                    if let Some(b) = <super::Pg as super::Backend>::fresh(stringify!($name)) {
                        super::$name(b);
                    }
                }
            )*
        }
    };
}

contract_tests!(
    committed_writes_survive_reopen,
    racing_writers_for_the_same_airspace_cannot_both_succeed,
    disjoint_concurrent_writes_all_commit_and_persist,
    a_failed_rule_writes_nothing,
    reads_in_a_write_see_its_own_changes,
    area_lookups_equal_a_brute_force_scan,
    expired_lists_what_ended_before_the_cutoff,
    documents_commit_with_the_entities_of_their_write,
);

fn committed_writes_survive_reopen<B: Backend>(b: B) {
    let created = {
        let store = b.open();
        create(&store, "uss1", 0.0, vec![]).unwrap()
    };
    let store = b.open();
    let id = parse::entity_id("id", &created.operational_intent_reference.id).unwrap();
    let got = read(&store, |tx| ois::get(tx, &caller("uss1"), id, Utc::now())).unwrap();
    assert_eq!(got, created.operational_intent_reference);
    assert_eq!(B::counts(&store), (1, 0, 0));
}

fn racing_writers_for_the_same_airspace_cannot_both_succeed<B: Backend>(b: B) {
    let store = Arc::new(b.open());
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                // Every writer saw an empty airspace: its key is empty.
                create(&*store, &format!("uss{i}"), 0.0, vec![])
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "exactly one writer may commit into empty airspace");
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(matches!(r, Err(DssError::AirspaceConflict(_))), "{r:?}");
    }
    assert_eq!(B::counts(&store).0, 1);
}

fn disjoint_concurrent_writes_all_commit_and_persist<B: Backend>(b: B) {
    let store = Arc::new(b.open());
    let threads = 8;
    let per = 25;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut ids = HashSet::new();
                for i in 0..per {
                    let lat = (t * per + i) as f64 * 0.01;
                    let r = create(&*store, "uss1", lat, vec![]).unwrap();
                    ids.insert(r.operational_intent_reference.id);
                }
                ids
            })
        })
        .collect();
    let mut all = HashSet::new();
    for h in handles {
        all.extend(h.join().unwrap());
    }
    assert_eq!(all.len(), threads * per);
    eprintln!("retries: {}", B::retries(&store));
    drop(store);
    let reopened = b.open();
    assert_eq!(B::counts(&reopened).0, threads * per);
}

fn a_failed_rule_writes_nothing<B: Backend>(b: B) {
    let store = b.open();
    create(&store, "uss1", 0.0, vec![]).unwrap();
    assert!(create(&store, "uss2", 0.0, vec![]).is_err());
    // A closure that wrote and then failed leaves nothing behind either.
    let err = write(&store, |tx| {
        let e = intent(&mut StdRng::seed_from_u64(1), Utc::now());
        tx.apply(Change::PutOperationalIntent(Arc::new(e)))?;
        Err::<(), _>(DssError::bad("test", "refused after writing"))
    });
    assert!(matches!(err, Err(DssError::BadRequest { .. })));
    drop(store);
    assert_eq!(B::counts(&b.open()).0, 1);
}

fn reads_in_a_write_see_its_own_changes<B: Backend>(b: B) {
    let store = b.open();
    let e = Arc::new(intent(&mut StdRng::seed_from_u64(2), Utc::now()));
    let area = e.extents.prepared.clone();
    write(&store, |tx| {
        assert!(tx.operational_intent(e.id)?.is_none());
        tx.apply(Change::PutOperationalIntent(e.clone()))?;
        assert!(tx.operational_intent(e.id)?.is_some());
        assert_eq!(tx.operational_intents_in(&area)?.len(), 1);
        Ok(())
    })
    .unwrap();
    write(&store, |tx| {
        assert_eq!(tx.operational_intents_in(&area)?.len(), 1);
        tx.apply(Change::DeleteOperationalIntent(e.id))?;
        assert!(tx.operational_intent(e.id)?.is_none());
        assert!(tx.operational_intents_in(&area)?.is_empty());
        Ok(())
    })
    .unwrap();
    assert_eq!(B::counts(&store), (0, 0, 0));
}

/// A random intent around (47, 8): one to three circles or squares from metres to tens of
/// kilometres, at various heights and times.
fn intent(rng: &mut StdRng, now: Timestamp) -> OperationalIntent {
    let volumes: Vec<Volume4> = (0..rng.random_range(1..=3))
        .map(|_| random_volume(rng, now))
        .collect();
    OperationalIntent {
        id: EntityId::parse(&uuid::Uuid::new_v4().to_string()).unwrap(),
        manager: "uss1".into(),
        version: 1,
        ovn: Ovn(format!("{:032x}", rng.random::<u128>())),
        state: OiState::Accepted,
        uss_base_url: "https://uss.example/u".into(),
        subscription_id: None,
        extents: stored_extents(volumes).unwrap(),
    }
}

fn random_volume(rng: &mut StdRng, now: Timestamp) -> Volume4 {
    let lat = 47.0 + rng.random_range(-0.5..0.5);
    let lng = 8.0 + rng.random_range(-0.5..0.5);
    let size_m = 10f64.powf(rng.random_range(0.5..4.5));
    let shape = if rng.random_bool(0.5) {
        Shape::Circle {
            center: LatLng::new(lat, lng),
            radius_m: size_m,
        }
    } else {
        let d = size_m / 111_195.0;
        Shape::Polygon(vec![
            LatLng::new(lat - d, lng - d),
            LatLng::new(lat - d, lng + d),
            LatLng::new(lat + d, lng + d),
            LatLng::new(lat + d, lng - d),
        ])
    };
    let lower = rng.random_range(0.0..300.0);
    let start = now + Duration::minutes(rng.random_range(-30..120));
    Volume4 {
        shape,
        altitude: AltitudeRange::new(lower, lower + rng.random_range(10.0..200.0)),
        time: TimeRange::new(
            start.timestamp_micros(),
            (start + Duration::minutes(rng.random_range(1..90))).timestamp_micros(),
        ),
    }
}

fn area_lookups_equal_a_brute_force_scan<B: Backend>(b: B) {
    let store = b.open();
    let now = Utc::now();
    let mut rng = StdRng::seed_from_u64(7);
    let all: Vec<Arc<OperationalIntent>> =
        (0..300).map(|_| Arc::new(intent(&mut rng, now))).collect();
    write(&store, |tx| {
        for e in &all {
            tx.apply(Change::PutOperationalIntent(e.clone()))?;
        }
        Ok(())
    })
    .unwrap();
    let mut nonempty = 0;
    for _ in 0..60 {
        let q = stored_extents(vec![random_volume(&mut rng, now)]).unwrap();
        let expected: BTreeSet<EntityId> = all
            .iter()
            .filter(|e| any_intersects(&e.extents.prepared, &q.prepared))
            .map(|e| e.id)
            .collect();
        let got: BTreeSet<EntityId> = read(&store, |tx| tx.operational_intents_in(&q.prepared))
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(got, expected);
        nonempty += usize::from(!expected.is_empty());
    }
    assert!(nonempty >= 10, "only {nonempty} queries found anything");
}

fn expired_lists_what_ended_before_the_cutoff<B: Backend>(b: B) {
    let store = b.open();
    let now = Utc::now();
    let mut rng = StdRng::seed_from_u64(3);
    let old = Arc::new(intent(&mut rng, now - Duration::days(1)));
    let live = Arc::new(intent(&mut rng, now + Duration::days(1)));
    write(&store, |tx| {
        tx.apply(Change::PutOperationalIntent(old.clone()))?;
        tx.apply(Change::PutOperationalIntent(live.clone()))
    })
    .unwrap();
    let expired = store.expired(now).unwrap();
    assert_eq!(expired.operational_intents, vec![old.id]);
    assert!(expired.constraints.is_empty() && expired.subscriptions.is_empty());
    store.health().unwrap();
}

fn doc(kind: &str, id: &str, body: &str) -> Arc<Document> {
    Arc::new(Document {
        kind: kind.into(),
        id: id.into(),
        owner: "ngo".into(),
        body: body.into(),
    })
}

/// Documents ride in the same transaction as DSS entities: seen by later reads of the write,
/// durable with it, gone with it when a rule refuses, listed by kind in id order.
fn documents_commit_with_the_entities_of_their_write<B: Backend>(b: B) {
    let store = b.open();
    let e = Arc::new(intent(&mut StdRng::seed_from_u64(3), Utc::now()));
    write(&store, |tx| {
        tx.apply(Change::PutDocument(doc("site", "b", "{\"n\":1}")))?;
        tx.apply(Change::PutDocument(doc("site", "a", "{}")))?;
        tx.apply(Change::PutDocument(doc("movement", "a", "{}")))?;
        tx.apply(Change::PutOperationalIntent(e.clone()))?;
        assert_eq!(tx.document("site", "b")?.unwrap().body, "{\"n\":1}");
        let ids: Vec<_> = tx.documents("site")?.iter().map(|d| d.id.clone()).collect();
        assert_eq!(ids, ["a", "b"]);
        Ok(())
    })
    .unwrap();
    let err = write(&store, |tx| {
        tx.apply(Change::PutDocument(doc("site", "c", "{}")))?;
        tx.apply(Change::DeleteDocument {
            kind: "site".into(),
            id: "a".into(),
        })?;
        Err::<(), _>(DssError::bad("test", "refused after writing"))
    });
    assert!(err.is_err());
    drop(store);
    let store = b.open();
    read(&store, |tx| {
        let ids: Vec<_> = tx.documents("site")?.iter().map(|d| d.id.clone()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(tx.documents("movement")?.len(), 1);
        assert!(tx.document("site", "c")?.is_none());
        assert!(tx.operational_intent(e.id)?.is_some());
        Ok(())
    })
    .unwrap();
    write(&store, |tx| {
        tx.apply(Change::DeleteDocument {
            kind: "site".into(),
            id: "a".into(),
        })?;
        tx.apply(Change::PutDocument(doc("site", "b", "{\"n\":2}")))?;
        let ids: Vec<_> = tx.documents("site")?.iter().map(|d| d.id.clone()).collect();
        assert_eq!(ids, ["b"]);
        Ok(())
    })
    .unwrap();
    drop(store);
    let store = b.open();
    let docs = read(&store, |tx| tx.documents("site")).unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].body, "{\"n\":2}");
}

/// On SQLite a write staged for the next group commit is read at once by the reads that make
/// keys, by area and by id, before it is durable (a second handle on the file does not see it
/// yet); other reads see it once it is committed.
#[test]
fn sqlite_key_reads_see_a_staged_write_before_its_commit() {
    let b = Sqlite::fresh("staged").unwrap();
    let store = b.open();
    let now = Utc::now();
    let e = Arc::new(intent(&mut StdRng::seed_from_u64(7), now));
    let ticket = store
        .stage(&mut |tx| tx.apply(Change::PutOperationalIntent(e.clone())))
        .expect("SQLite stages writes")
        .unwrap()
        .expect("a change to commit");
    let area = e.extents.prepared.clone();
    let (by_id, by_area) = read_staged(&store, |tx| {
        Ok((
            tx.operational_intent(e.id)?.is_some(),
            tx.operational_intents_in(&area)?.len(),
        ))
    })
    .unwrap();
    assert!(
        by_id && by_area == 1,
        "staged write unseen: {by_id} {by_area}"
    );
    let committed = |s: &SqliteStore| read(s, |tx| Ok(tx.operational_intent(e.id)?.is_some()));
    assert!(
        !committed(&store).unwrap(),
        "a plain read sees committed writes only"
    );
    assert_eq!(
        b.open().counts().unwrap().0,
        0,
        "not on disk before its commit"
    );
    store.await_commit(ticket).unwrap();
    assert_eq!(b.open().counts().unwrap().0, 1);
    assert!(committed(&store).unwrap());
    // Nothing staged any more: key reads take the committed state alone, with the write.
    let seen = read_staged(&store, |tx| Ok(tx.operational_intent(e.id)?.is_some())).unwrap();
    assert!(seen);
}
