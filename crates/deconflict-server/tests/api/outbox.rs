//! A pool's instances adopting the same abandoned outbox rows at the same moment (an instance
//! died with events committed but not yet in the log): each event is in the log exactly once,
//! and none is missing.

use std::sync::{Arc, Barrier};

use deconflict_core::model::Document;
use deconflict_core::store::{self, Change, Store};
use deconflict_server::recorder::{Recorder, ADOPT_AFTER, OUTBOX};
use deconflict_server::tlog::ServedLog;
use deconflict_store::PostgresStore;
use deconflict_tlog::{Kind, Log, LogKey, LogStorage, PostgresLogStorage, Record};

use crate::helpers::{postgres_available, TestDb};

/// One instance of the pool: its own store, log connection and recorder on the shared database.
fn instance(url: &str, key: &LogKey) -> (Arc<dyn Store>, Arc<ServedLog>, Recorder) {
    let store: Arc<dyn Store> = Arc::new(PostgresStore::open(url).unwrap());
    let storage: Box<dyn LogStorage> = Box::new(PostgresLogStorage::connect(url).unwrap());
    let served = Arc::new(ServedLog {
        log: Arc::new(Log::open(storage).unwrap()),
        key: key.clone(),
    });
    let recorder = Recorder::new(Arc::clone(&store), Arc::clone(&served), false);
    (store, served, recorder)
}

/// Outbox rows as an instance that died `ADOPT_AFTER` ago left them (ids start with the time).
fn abandon(store: &dyn Store, round: usize, n: usize) -> Vec<String> {
    let then = chrono::Utc::now() - ADOPT_AFTER * 3;
    let nanos = then.timestamp_nanos_opt().unwrap();
    let ids: Vec<String> = (0..n)
        .map(|i| format!("{nanos:020}-dead{round}-{i:x}"))
        .collect();
    store::write(store, |tx| {
        for (i, id) in ids.iter().enumerate() {
            let mut body = serde_json::Map::new();
            body.insert("n".into(), i.into());
            let record = Record {
                kind: Kind::Notification,
                time: "2026-11-28T02:00:00.000Z".into(),
                party: "alpha".into(),
                subject: format!("site-{round}-{i}"),
                body,
            };
            tx.apply(Change::PutDocument(Arc::new(Document {
                kind: OUTBOX.into(),
                id: id.clone(),
                owner: format!("dead{round}"),
                body: String::from_utf8(record.to_bytes().unwrap()).unwrap(),
            })))?;
        }
        Ok(())
    })
    .unwrap();
    ids
}

fn outbox_len(store: &dyn Store) -> usize {
    store::read(store, |tx| tx.documents(OUTBOX)).unwrap().len()
}

#[test]
fn pool_instances_adopting_the_same_rows_log_each_event_once() {
    if !postgres_available(concat!(
        module_path!(),
        "::pool_instances_adopting_the_same_rows_log_each_event_once"
    )) {
        return;
    }
    let db = TestDb::create();
    let (key, _) = LogKey::generate("pool.test/log").unwrap();
    let a = instance(&db.url, &key);
    let b = instance(&db.url, &key);
    const ROUNDS: usize = 4;
    const ROWS: usize = 300;
    let mut events = Vec::new();
    for round in 0..ROUNDS {
        events.extend(abandon(&*a.0, round, ROWS));
        // Both instances see every abandoned row before either starts forwarding.
        let waited = std::time::Instant::now();
        while outbox_len(&*a.0) < ROWS || outbox_len(&*b.0) < ROWS {
            assert!(
                waited.elapsed().as_secs() < 10,
                "the rows did not reach both stores"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let start = Arc::new(Barrier::new(2));
        let forwarders: Vec<_> = [a.2.clone(), b.2.clone()]
            .into_iter()
            .map(|rec| {
                let start = Arc::clone(&start);
                std::thread::spawn(move || {
                    start.wait();
                    rec.forward_now().unwrap()
                })
            })
            .collect();
        let forwarded: usize = forwarders.into_iter().map(|f| f.join().unwrap()).sum();
        assert!(
            forwarded >= ROWS,
            "round {round}: {forwarded} rows forwarded"
        );
    }

    let log = &a.1.log;
    log.catch_up().unwrap();
    for id in &events {
        let found = log.find(&format!("event:{id}")).unwrap();
        assert_eq!(found.len(), 1, "event {id} is in the log at {found:?}");
    }
    assert_eq!(
        log.size(),
        (ROUNDS * ROWS) as u64,
        "no entry beyond the events"
    );
    // The log is consistent for the other instance too, and the outbox is empty.
    b.1.log.catch_up().unwrap();
    assert_eq!(
        b.1.log.root(log.size()).unwrap(),
        log.root(log.size()).unwrap()
    );
    store::read_current(&*a.0, |tx| tx.documents(OUTBOX))
        .map(|rows| assert!(rows.is_empty(), "{} rows left in the outbox", rows.len()))
        .unwrap();
}
