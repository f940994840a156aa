//! Contract tests of the SQLite store: durability across reopen, atomic check-then-write under
//! concurrency, and group commit.

use std::collections::HashSet;
use std::sync::{Arc, Barrier};

use chrono::{Duration, Utc};
use deconflict_core::limits::Limits;
use deconflict_core::rules::{operational_intents as ois, Caller};
use deconflict_core::store::{read, write};
use deconflict_core::{parse, wire, DssError};

use super::*;

fn caller(name: &str) -> Caller {
    Caller {
        manager: name.into(),
        strategic_coordination: true,
        constraint_processing: false,
    }
}

fn square(lat: f64, lng: f64, half_deg: f64) -> wire::Volume4D {
    let now = Utc::now();
    let t = |d: chrono::DateTime<Utc>| wire::Time {
        value: d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        format: "RFC3339".into(),
    };
    let alt = |v: f64| wire::Altitude {
        value: v,
        reference: "W84".into(),
        units: "M".into(),
    };
    let p = |la: f64, ln: f64| wire::LatLngPoint { lat: la, lng: ln };
    wire::Volume4D {
        volume: wire::Volume3D {
            outline_circle: None,
            outline_polygon: Some(wire::Polygon {
                vertices: vec![
                    p(lat - half_deg, lng - half_deg),
                    p(lat - half_deg, lng + half_deg),
                    p(lat + half_deg, lng + half_deg),
                    p(lat + half_deg, lng - half_deg),
                ],
            }),
            altitude_lower: Some(alt(0.0)),
            altitude_upper: Some(alt(120.0)),
        },
        time_start: Some(t(now)),
        time_end: Some(t(now + Duration::hours(1))),
    }
}

fn put_body(lat: f64, lng: f64, key: Vec<String>) -> wire::PutOperationalIntentReferenceParameters {
    wire::PutOperationalIntentReferenceParameters {
        extents: vec![square(lat, lng, 0.001)],
        key: Some(key),
        state: "Accepted".into(),
        uss_base_url: "https://uss.example/u".into(),
        subscription_id: None,
        new_subscription: None,
        requested_ovn_suffix: None,
    }
}

fn create(
    store: &SqliteStore,
    who: &str,
    lat: f64,
    key: Vec<String>,
) -> Result<wire::ChangeOperationalIntentReferenceResponse> {
    let id = uuid::Uuid::new_v4().to_string();
    let req = parse::put_operational_intent(
        &id,
        None,
        &put_body(lat, 10.0, key),
        &Limits::default(),
        Utc::now(),
    )?;
    write(store, |tx| ois::put(tx, &caller(who), &req, Utc::now())).map(|(r, _)| r)
}

#[test]
fn committed_writes_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dss.db");
    let created = {
        let store = SqliteStore::open(&path).unwrap();
        create(&store, "uss1", 0.0, vec![]).unwrap()
    };
    let store = SqliteStore::open(&path).unwrap();
    let id = parse::entity_id("id", &created.operational_intent_reference.id).unwrap();
    let got = read(&store, |tx| ois::get(tx, &caller("uss1"), id, Utc::now())).unwrap();
    assert_eq!(got, created.operational_intent_reference);
    assert_eq!(store.counts().unwrap(), (1, 0, 0));
}

#[test]
fn racing_writers_for_the_same_airspace_cannot_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("dss.db")).unwrap());
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                // Every writer saw an empty airspace: its key is empty.
                create(&store, &format!("uss{i}"), 0.0, vec![])
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "exactly one writer may commit into empty airspace");
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(matches!(r, Err(DssError::AirspaceConflict(_))));
    }
    assert_eq!(store.counts().unwrap().0, 1);
}

#[test]
fn disjoint_concurrent_writes_all_commit_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dss.db");
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let threads = 8;
    let per = 25;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut ids = HashSet::new();
                for i in 0..per {
                    let lat = (t * per + i) as f64 * 0.01;
                    let r = create(&store, "uss1", lat, vec![]).unwrap();
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
    drop(store);
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.counts().unwrap().0, threads * per);
}

#[test]
fn a_failed_rule_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dss.db");
    let store = SqliteStore::open(&path).unwrap();
    create(&store, "uss1", 0.0, vec![]).unwrap();
    assert!(create(&store, "uss2", 0.0, vec![]).is_err());
    drop(store);
    assert_eq!(SqliteStore::open(&path).unwrap().counts().unwrap().0, 1);
}
