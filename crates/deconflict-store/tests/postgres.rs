//! What only the PostgreSQL store has: several instances on one database (serialization
//! failures retried, then refused), migrations, and an unreachable server.
//!
//! Needs `DECONFLICT_TEST_POSTGRES` (scripts/pg.sh starts a throw-away server); see
//! `common::fresh_db` for what happens without it.

// Helpers panic on failure: this is a test binary.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::TcpListener;
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use chrono::Utc;
use common::{caller, create, create_request, fresh_db};
use deconflict_core::ids::EntityId;
use deconflict_core::model::{Availability, UssAvailability};
use deconflict_core::rules::operational_intents as ois;
use deconflict_core::store::{read, read_current, write, Change, Store};
use deconflict_core::DssError;
use deconflict_store::{migrate, PgError, PostgresOptions, PostgresStore, SCHEMA_VERSION};

/// Each instance answers from its own image of the database: B's writes are seen through A
/// at once, by a read and by a write's key check, although A was told nothing.
#[test]
fn an_instance_sees_the_writes_of_another_at_once() {
    let Some(db) = fresh_db("an_instance_sees_the_writes_of_another_at_once") else {
        return;
    };
    let a = PostgresStore::open(&db.url).unwrap();
    let b = PostgresStore::open(&db.url).unwrap();
    let made = create(&b, "ussB", 0.0, vec![]).unwrap();
    let id = EntityId::parse(&made.operational_intent_reference.id).unwrap();
    let seen = read(&a, |tx| tx.operational_intent(id)).unwrap();
    assert_eq!(seen.map(|o| o.manager.to_string()), Some("ussB".to_owned()));

    // A write through A is checked against it: refused without the OVN as a key.
    let req = create_request(0.0, vec![]);
    let result = write(&a, |tx| ois::put(tx, &caller("ussA"), &req, Utc::now()));
    assert!(
        matches!(result, Err(DssError::AirspaceConflict(_))),
        "{result:?}"
    );
    assert_eq!(a.retries(), 0);

    // B deletes it: gone through A as well, and A may now take the airspace.
    let ovn = made.operational_intent_reference.ovn.clone().unwrap();
    write(&b, |tx| {
        ois::delete(tx, &caller("ussB"), id, &ovn, Utc::now())
    })
    .unwrap();
    assert!(read(&a, |tx| tx.operational_intent(id)).unwrap().is_none());
    create(&a, "ussA", 0.0, vec![]).unwrap();
    assert_eq!(b.counts().unwrap(), (1, 0, 0));
}

/// A read on an async runtime awaits a catch-up run by the store's own task and then answers
/// from memory: it sees every write acknowledged before it through another instance, while
/// that instance keeps writing; reads that arrive together share catch-ups.
#[test]
fn async_reads_see_every_write_acknowledged_before_them() {
    let Some(db) = fresh_db("async_reads_see_every_write_acknowledged_before_them") else {
        return;
    };
    let a = Arc::new(PostgresStore::open(&db.url).unwrap());
    let b = Arc::new(PostgresStore::open(&db.url).unwrap());
    assert!(
        a.catch_up().is_none(),
        "no runtime here: reads catch up themselves"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let acked: Arc<Mutex<Vec<EntityId>>> = Arc::default();
    runtime.block_on(async {
        let writer = {
            let (b, acked) = (b.clone(), acked.clone());
            tokio::task::spawn_blocking(move || {
                for i in 0..40 {
                    let made = create(&*b, "ussB", f64::from(i) * 0.01, vec![]).unwrap();
                    let id = EntityId::parse(&made.operational_intent_reference.id).unwrap();
                    acked.lock().unwrap().push(id);
                }
            })
        };
        let mut readers = Vec::new();
        for _ in 0..8 {
            let (a, acked) = (a.clone(), acked.clone());
            readers.push(tokio::spawn(async move {
                let mut reads = 0;
                loop {
                    let before = acked.lock().unwrap().clone();
                    a.catch_up().unwrap().await.unwrap();
                    let missing = read_current(&*a, |tx| {
                        Ok(before
                            .iter()
                            .filter(|id| tx.operational_intent(**id).unwrap().is_none())
                            .count())
                    })
                    .unwrap();
                    assert_eq!(missing, 0, "after {} acknowledged writes", before.len());
                    reads += 1;
                    if before.len() == 40 {
                        return reads;
                    }
                }
            }));
        }
        writer.await.unwrap();
        for r in readers {
            assert!(r.await.unwrap() >= 1);
        }

        // 200 reads that arrive at once share a few catch-ups (one in flight, one next).
        let rounds = a.catch_ups();
        let waits: Vec<_> = (0..200).map(|_| a.catch_up().unwrap()).collect();
        for w in waits {
            w.await.unwrap();
        }
        let shared = a.catch_ups() - rounds;
        assert!(
            (1..=20).contains(&shared),
            "{shared} catch-ups for 200 reads"
        );
    });
    assert_eq!(
        read(&*a, |tx| tx.operational_intent(acked.lock().unwrap()[39]))
            .unwrap()
            .map(|o| o.manager.to_string()),
        Some("ussB".to_owned())
    );
}

/// An image older than the pruned tombstones cannot tell what was deleted since: it is loaded
/// again in full.
#[test]
fn an_image_older_than_the_pruned_tombstones_is_loaded_again() {
    let Some(db) = fresh_db("an_image_older_than_the_pruned_tombstones_is_loaded_again") else {
        return;
    };
    let a = PostgresStore::open(&db.url).unwrap();
    let b = PostgresStore::open(&db.url).unwrap();
    let kept = create(&b, "ussB", 0.0, vec![]).unwrap();
    let gone = create(&b, "ussB", 1.0, vec![]).unwrap();
    assert_eq!(a.counts().unwrap(), (2, 0, 0));
    // D catches up on an async runtime, which loads the image again on a blocking thread.
    let d = PostgresStore::open(&db.url).unwrap();
    let id = EntityId::parse(&gone.operational_intent_reference.id).unwrap();
    let ovn = gone.operational_intent_reference.ovn.clone().unwrap();
    write(&b, |tx| {
        ois::delete(tx, &caller("ussB"), id, &ovn, Utc::now())
    })
    .unwrap();
    // As if an hour had passed: the tombstone is pruned before A has caught up.
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    c.batch_execute("DELETE FROM tombstones; UPDATE log_head SET pruned = seq WHERE id = 1")
        .unwrap();
    assert_eq!(a.counts().unwrap(), (1, 0, 0));
    let kept = EntityId::parse(&kept.operational_intent_reference.id).unwrap();
    assert!(read(&a, |tx| tx.operational_intent(kept))
        .unwrap()
        .is_some());
    assert!(read(&a, |tx| tx.operational_intent(id)).unwrap().is_none());

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async { d.catch_up().unwrap().await.unwrap() });
    assert!(read_current(&d, |tx| tx.operational_intent(id))
        .unwrap()
        .is_none());
    assert!(read_current(&d, |tx| tx.operational_intent(kept))
        .unwrap()
        .is_some());
}

/// A write that keeps losing gives up after the configured number of runs with 409. (The
/// other writer here is a plain client, which takes no part in the numbering of transactions
/// that orders the store's writers.)
#[test]
fn repeated_serialization_failures_end_in_a_conflict() {
    let Some(db) = fresh_db("repeated_serialization_failures_end_in_a_conflict") else {
        return;
    };
    let options = PostgresOptions {
        max_attempts: 4,
        ..PostgresOptions::default()
    };
    let a = PostgresStore::open_with(&db.url, options).unwrap();
    let mut other = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let mut runs = 0;
    let result = write(&a, |tx| {
        runs += 1;
        tx.availability("uss9")?;
        other
            .execute(
                "INSERT INTO uss_availability (uss, availability, version) \
                 VALUES ('uss9', 'Normal', $1) ON CONFLICT (uss) DO UPDATE SET version = $1",
                &[&format!("b{runs}")],
            )
            .unwrap();
        tx.apply(Change::PutAvailability(UssAvailability {
            uss: "uss9".into(),
            availability: Availability::Down,
            version: "a".into(),
        }))
    });
    match result {
        Err(DssError::Conflict(m)) => assert!(m.contains("Despite repeated attempts"), "{m}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(runs, 4);
    assert_eq!(a.retries(), 3);
    // The other writer's last write stands; A wrote nothing.
    let got: String = other
        .query_one(
            "SELECT version FROM uss_availability WHERE uss = 'uss9'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(got, "b4");
}

#[test]
fn instances_racing_for_the_same_airspace_cannot_both_succeed() {
    let Some(db) = fresh_db("instances_racing_for_the_same_airspace_cannot_both_succeed") else {
        return;
    };
    let stores: Vec<Arc<PostgresStore>> = (0..3)
        .map(|_| Arc::new(PostgresStore::open(&db.url).unwrap()))
        .collect();
    let n = 6;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                create(&*store, &format!("uss{i}"), 0.0, vec![])
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(matches!(r, Err(DssError::AirspaceConflict(_))), "{r:?}");
    }
    assert_eq!(stores[0].counts().unwrap().0, 1);
}

#[test]
fn disjoint_writes_of_several_instances_all_commit() {
    let Some(db) = fresh_db("disjoint_writes_of_several_instances_all_commit") else {
        return;
    };
    let stores: Vec<Arc<PostgresStore>> = (0..3)
        .map(|_| Arc::new(PostgresStore::open(&db.url).unwrap()))
        .collect();
    let per = 20;
    let handles: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(t, store)| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..per {
                    create(&*store, "uss1", (t * per + i) as f64 * 0.01, vec![]).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let retries: u64 = stores.iter().map(|s| s.retries()).sum();
    eprintln!("{} writes by 3 instances, {retries} retried", 3 * per);
    assert_eq!(stores[0].counts().unwrap().0, 3 * per);
}

/// Writes arriving together at one instance share transactions (group commit): each sees the
/// writes queued before it, a write whose rules refuse leaves nothing behind, and the others
/// in its transaction commit.
#[test]
fn writes_of_one_instance_share_transactions_and_a_refused_one_leaves_nothing() {
    let Some(db) =
        fresh_db("writes_of_one_instance_share_transactions_and_a_refused_one_leaves_nothing")
    else {
        return;
    };
    let store = Arc::new(PostgresStore::open(&db.url).unwrap());
    let threads = 12;
    let per = 10;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut ok = 0;
                for i in 0..per {
                    let uss = format!("uss{t}-{i}");
                    let refuse = (t + i) % 3 == 0;
                    let r = write(&*store, |tx| {
                        tx.apply(Change::PutAvailability(UssAvailability {
                            uss: uss.clone(),
                            availability: Availability::Down,
                            version: "v1".into(),
                        }))?;
                        // Reads see the write's own change.
                        assert!(tx.availability(&uss)?.is_some());
                        if refuse {
                            return Err(DssError::Conflict("refused by the rule".into()));
                        }
                        Ok(())
                    });
                    match r {
                        Ok(()) => ok += 1,
                        Err(DssError::Conflict(m)) => assert!(refuse, "{m}"),
                        Err(e) => panic!("{e}"),
                    }
                }
                ok
            })
        })
        .collect();
    let ok: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let expected = (0..threads)
        .flat_map(|t| (0..per).map(move |i| (t + i) % 3 != 0))
        .filter(|kept| *kept)
        .count();
    assert_eq!(ok, expected);
    let stored = deconflict_core::store::read(&*store, |tx| {
        let mut n = 0;
        for t in 0..threads {
            for i in 0..per {
                let a = tx.availability(&format!("uss{t}-{i}"))?;
                assert_eq!(a.is_some(), (t + i) % 3 != 0, "uss{t}-{i}");
                n += usize::from(a.is_some());
            }
        }
        Ok(n)
    })
    .unwrap();
    assert_eq!(stored, ok);
    eprintln!(
        "{} writes in {} transactions",
        threads * per,
        store.transactions()
    );
    assert!(store.transactions() <= ok as u64);

    // Intents racing for one airspace through one instance: the first in a transaction
    // wins, the later ones in it see its intent and are refused.
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let store = store.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                create(&*store, &format!("racer{i}"), 5.0, vec![])
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for r in results.iter().filter(|r| r.is_err()) {
        assert!(matches!(r, Err(DssError::AirspaceConflict(_))), "{r:?}");
    }
    assert_eq!(store.counts().unwrap().0, 1);
}

#[test]
fn migrations_apply_once_even_when_instances_start_together() {
    let Some(db) = fresh_db("migrations_apply_once_even_when_instances_start_together") else {
        return;
    };
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || migrate(&url))
        })
        .collect();
    let applied: Vec<Vec<i64>> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    let all: Vec<i64> = applied.into_iter().flatten().collect();
    assert_eq!(all, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    assert!(migrate(&db.url).unwrap().is_empty());
    let store = PostgresStore::open(&db.url).unwrap();
    store.health().unwrap();
}

/// A database of schema version 1 (before the numbering) is upgraded at start-up, and what it
/// held is served and can be changed.
#[test]
fn a_version_1_database_is_upgraded_with_its_data() {
    let Some(db) = fresh_db("a_version_1_database_is_upgraded_with_its_data") else {
        return;
    };
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    c.batch_execute(include_str!("../src/postgres/migrations/0001_initial.sql"))
        .unwrap();
    c.batch_execute(
        "CREATE TABLE schema_versions (version BIGINT PRIMARY KEY, name TEXT NOT NULL, \
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now()); \
         INSERT INTO schema_versions (version, name) VALUES (1, 'initial'); \
         INSERT INTO uss_availability (uss, availability, version) VALUES ('uss1', 'Down', 'v1')",
    )
    .unwrap();
    let store = PostgresStore::open(&db.url).unwrap();
    let got = read(&store, |tx| tx.availability("uss1")).unwrap().unwrap();
    assert_eq!(
        (got.availability, got.version.as_str()),
        (Availability::Down, "v1")
    );
    write(&store, |tx| {
        tx.apply(Change::PutAvailability(UssAvailability {
            uss: "uss1".into(),
            availability: Availability::Normal,
            version: "v2".into(),
        }))
    })
    .unwrap();
    let other = PostgresStore::open(&db.url).unwrap();
    let got = read(&other, |tx| tx.availability("uss1")).unwrap().unwrap();
    assert_eq!(got.version, "v2");
    let version: i64 = c
        .query_one("SELECT max(version) FROM schema_versions", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn a_schema_newer_than_the_build_is_refused() {
    let Some(db) = fresh_db("a_schema_newer_than_the_build_is_refused") else {
        return;
    };
    migrate(&db.url).unwrap();
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    c.execute(
        "INSERT INTO schema_versions (version, name) VALUES ($1, 'from the future')",
        &[&(SCHEMA_VERSION + 1)],
    )
    .unwrap();
    match PostgresStore::open(&db.url) {
        Err(PgError::Schema(m)) => assert!(m.contains("newer than this build"), "{m}"),
        Err(e) => panic!("expected a schema error, got {e}"),
        Ok(_) => panic!("expected a schema error, got a store"),
    }
}

/// No server needed: nothing listens on the port.
#[test]
fn an_unreachable_server_is_unavailable_and_named() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("postgres://nobody:secret@127.0.0.1:{port}/dss");
    let options = PostgresOptions {
        connect_timeout: Duration::from_millis(500),
        ..PostgresOptions::default()
    };
    let err = match PostgresStore::open_with(&url, options) {
        Err(e) => e,
        Ok(_) => panic!("nothing listens on {port}"),
    };
    assert!(matches!(err, PgError::Unreachable { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("127.0.0.1:{port}/dss")),
        "{message}"
    );
    assert!(!message.contains("secret"), "{message}");
    // The cause is kept: nothing listens there.
    assert!(message.to_lowercase().contains("refused"), "{message}");
    assert!(matches!(DssError::from(err), DssError::Unavailable(_)));
    assert!(matches!(
        PostgresStore::open("not a url"),
        Err(PgError::Url(_))
    ));
}
