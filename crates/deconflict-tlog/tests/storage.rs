//! The same contract on both backends: durable batched appends across block edges, memory
//! rebuilt on reopen, two writers on one log (as a pool's instances) losing nothing,
//! checkpoints issued only when the log grew, and keyed entries appended once however many
//! writers append them at the same moment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{encoded, mth, records};
use deconflict_tlog::{
    Keyed, Log, LogKey, LogOptions, LogStorage, PostgresLogStorage, SignedCheckpoint,
    SqliteLogStorage,
};
use tlog_tiles::{check_record, check_tree};

fn contract<S: LogStorage>(open: impl Fn() -> S) {
    let log = Log::open(open()).unwrap();
    assert_eq!(log.size(), 0);
    let mut n = 0;
    for batch in [1u64, 254, 3, 300, 1, 700] {
        let r = log.append(&records(n, n + batch)).unwrap();
        assert_eq!(r, n..n + batch);
        n += batch;
    }
    let all = encoded(0, n);
    assert_eq!(log.records(0, n).unwrap(), all);
    for size in [1, 255, 256, 257, 512, 1000, n] {
        assert_eq!(
            log.root(size).unwrap(),
            mth(&all[..size as usize]),
            "size {size}"
        );
    }
    drop(log);

    // Reopened: same tree, proofs check.
    let log = Log::open(open()).unwrap();
    assert_eq!(log.size(), n);
    let root = mth(&all);
    for i in [0, 255, 256, 700, n - 1] {
        let p = log.inclusion_proof(i, n).unwrap();
        check_record(&p, n, root, i, tlog_tiles::record_hash(&all[i as usize])).unwrap();
    }
    let p = log.consistency_proof(300, n).unwrap();
    check_tree(&p, n, root, 300, mth(&all[..300])).unwrap();

    // A second writer on the same storage (another instance of a pool).
    let other = Log::open(open()).unwrap();
    for k in 0..6u64 {
        let (w, batch) = if k % 2 == 0 {
            (&log, 100)
        } else {
            (&other, 57)
        };
        w.append(&records(n, n + batch)).unwrap();
        n += batch;
    }
    let all = encoded(0, n);
    assert_eq!(
        log.records(0, n).unwrap(),
        all,
        "nothing lost, nothing reordered"
    );
    log.catch_up().unwrap();
    other.catch_up().unwrap();
    assert_eq!(log.root(n).unwrap(), mth(&all));
    assert_eq!(other.root(n).unwrap(), mth(&all));

    // Checkpoints: one per growth.
    let (key, _) = LogKey::generate("test.example/log").unwrap();
    let cp = log.checkpoint_if_new(&key).unwrap().unwrap();
    assert_eq!((cp.size, cp.root), (n, mth(&all)));
    assert!(log.checkpoint_if_new(&key).unwrap().is_none());
    other.append(&records(n, n + 1)).unwrap();
    let cp2 = log.checkpoint_if_new(&key).unwrap().unwrap();
    assert_eq!(
        cp2.size,
        n + 1,
        "a checkpoint covers what other instances appended"
    );
    let kept = log.storage().checkpoints().unwrap();
    assert_eq!(kept.len(), 2);
    let opened =
        SignedCheckpoint::open(std::str::from_utf8(&kept[1].1).unwrap(), key.verifier_key())
            .unwrap();
    assert_eq!(opened, cp2);
    assert_eq!(log.latest_checkpoint(&key).unwrap(), Some(cp2));

    // A term given twice for one entry is stored once, and is no error.
    let record = encoded(n + 1, n + 2).pop().unwrap();
    let twice = vec!["dup:1".to_owned(), "dup:1".to_owned()];
    let at = log.append_indexed(vec![(record, twice)]).unwrap();
    assert_eq!(at, n + 1..n + 2);
    assert_eq!(log.find("dup:1").unwrap(), [n + 1]);

    // A term's entries are read a page at a time, in order, each page after the last one.
    let shared = encoded(n + 2, n + 9)
        .into_iter()
        .map(|r| (r, vec!["page:x".to_owned()]))
        .collect();
    let every: Vec<u64> = log.append_indexed(shared).unwrap().collect();
    assert_eq!(every.len(), 7);
    assert_eq!(log.find("page:x").unwrap(), every);
    assert_eq!(log.find_page("page:x", None, 3).unwrap(), every[..3]);
    assert_eq!(
        log.find_page("page:x", Some(every[2]), 3).unwrap(),
        every[3..6]
    );
    assert_eq!(
        log.find_page("page:x", Some(every[5]), 3).unwrap(),
        every[6..]
    );
    assert!(log
        .find_page("page:x", Some(every[6]), 3)
        .unwrap()
        .is_empty());
    assert!(log.find_page("page:x", None, 0).unwrap().is_empty());
}

/// Every inclusion proof of the tree of `n` entries, and consistency proofs from sizes around
/// block edges, check against the reference hashes of `all`.
fn every_proof_checks<S: LogStorage>(log: &Log<S>, n: u64, all: &[Vec<u8>]) {
    let root = mth(&all[..n as usize]);
    for i in 0..n {
        let p = log.inclusion_proof(i, n).unwrap();
        check_record(&p, n, root, i, tlog_tiles::record_hash(&all[i as usize]))
            .unwrap_or_else(|e| panic!("entry {i} in the tree of {n}: {e}"));
    }
    for old in [1, 100, 255, 256, 257, 511, 512, 600, 767, 768, 1000, n] {
        if old <= n {
            let p = log.consistency_proof(old, n).unwrap();
            check_tree(&p, n, root, old, mth(&all[..old as usize]))
                .unwrap_or_else(|e| panic!("sizes {old} and {n}: {e}"));
        }
    }
}

/// Proofs served from the block cache are right: with room for one row only (rows evicted and
/// read again within one consistency proof), then after another instance (of a pool) appended,
/// completing the block this instance held as incomplete and one more, both for the old size
/// and the new.
fn cache_contract<S: LogStorage>(open: impl Fn() -> S) {
    let one_row = LogOptions { cache_bytes: 0 };
    let log = Log::open_with(open(), one_row).unwrap();
    let other = Log::open(open()).unwrap();
    log.append(&records(0, 600)).unwrap();
    let all = encoded(0, 1100);
    every_proof_checks(&log, 600, &all);
    assert_eq!(log.cached_blocks(), (1, 1), "one row at most");

    other.append(&records(600, 1100)).unwrap();
    assert_eq!(log.size(), 600, "this instance has not caught up yet");
    every_proof_checks(&log, 600, &all);
    every_proof_checks(&log, 1100, &all);
    assert_eq!(log.size(), 1100, "caught up for the proofs of the new size");
    every_proof_checks(&log, 600, &all);
    every_proof_checks(&other, 1100, &all);
    assert_eq!(log.cached_blocks(), (1, 1));
}

#[test]
fn sqlite_backend_serves_proofs_from_its_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sqlite");
    cache_contract(|| SqliteLogStorage::open(&path).unwrap());
}

#[test]
fn postgres_backend_serves_proofs_from_its_cache() {
    let Some(db) =
        deconflict_testkit::TestDb::fresh("postgres_backend_serves_proofs_from_its_cache")
    else {
        return;
    };
    cache_contract(|| PostgresLogStorage::connect(&db.url).unwrap());
}

/// Entry `i` keyed `event:i`.
fn keyed(from: u64, to: u64) -> Vec<Keyed> {
    (from..to)
        .map(|i| Keyed {
            key: format!("event:{i}"),
            record: common::record(i).to_bytes().unwrap(),
            terms: common::record(i).index_terms(),
        })
        .collect()
}

/// Four writers on two logs (two instances of a pool) append overlapping keyed entries at the
/// same moment: every key is in the log once, with its record, and nothing else is.
fn append_once_contract<S: LogStorage>(open: impl Fn() -> S) {
    let logs = [
        std::sync::Arc::new(Log::open(open()).unwrap()),
        std::sync::Arc::new(Log::open(open()).unwrap()),
    ];
    // A key repeated in one call: the first is appended.
    let mut twice = keyed(0, 3);
    twice.push(keyed(1, 2).pop().unwrap());
    assert_eq!(
        logs[0].append_once(twice).unwrap(),
        [Some(0), Some(1), Some(2), None]
    );
    assert_eq!(logs[1].append_once(keyed(2, 4)).unwrap(), [None, Some(3)]);

    let start = std::sync::Arc::new(std::sync::Barrier::new(4));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (log, start) = (logs[w % 2].clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                // Overlapping ranges, in batches, each writer from its own offset.
                (0..10u64)
                    .flat_map(|k| {
                        let from = 4 + (k * 37 + w as u64 * 11) % 300;
                        log.append_once(keyed(from, from + 40)).unwrap()
                    })
                    .flatten()
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut placed: Vec<u64> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    placed.sort_unstable();
    let log = &logs[0];
    log.catch_up().unwrap();
    let n = log.size();
    assert_eq!(
        placed,
        (4..n).collect::<Vec<_>>(),
        "each index handed out once"
    );
    let stored = log.records(0, n).unwrap();
    let mut seen = std::collections::HashSet::new();
    for (i, bytes) in stored.iter().enumerate() {
        let r = deconflict_tlog::Record::from_bytes(bytes).unwrap();
        let key = format!("event:{}", r.body["n"]);
        assert_eq!(
            log.find(&key).unwrap(),
            [i as u64],
            "{key} is entry {i} only"
        );
        assert!(seen.insert(key.clone()), "{key} appended twice");
    }
    assert_eq!(logs[1].root(n).unwrap(), mth(&stored));
}

#[test]
fn sqlite_backend_appends_a_keyed_entry_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sqlite");
    append_once_contract(|| SqliteLogStorage::open(&path).unwrap());
}

#[test]
fn postgres_backend_appends_a_keyed_entry_once() {
    let Some(db) = deconflict_testkit::TestDb::fresh("postgres_backend_appends_a_keyed_entry_once")
    else {
        return;
    };
    append_once_contract(|| PostgresLogStorage::connect(&db.url).unwrap());
}

#[test]
fn sqlite_backend_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sqlite");
    contract(|| SqliteLogStorage::open(&path).unwrap());
}

#[test]
fn postgres_backend_keeps_the_contract() {
    let Some(db) = deconflict_testkit::TestDb::fresh("postgres_backend_keeps_the_contract") else {
        return;
    };
    contract(|| PostgresLogStorage::connect(&db.url).unwrap());
}

#[test]
fn concurrent_appends_share_commits_and_each_gets_its_own_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::sync::Arc::new(
        Log::open(SqliteLogStorage::open(dir.path().join("log.sqlite")).unwrap()).unwrap(),
    );
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                (0..50u64)
                    .map(|k| {
                        let r = common::record(t * 1000 + k);
                        (log.append(std::slice::from_ref(&r)).unwrap(), r)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut got: Vec<(std::ops::Range<u64>, deconflict_tlog::Record)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    got.sort_by_key(|(r, _)| r.start);
    assert_eq!(log.size(), 400);
    let stored = log.records(0, 400).unwrap();
    for (i, (range, record)) in got.iter().enumerate() {
        assert_eq!(*range, i as u64..i as u64 + 1);
        assert_eq!(
            stored[i],
            record.to_bytes().unwrap(),
            "entry {i} is the record appended there"
        );
    }
    assert_eq!(log.root(400).unwrap(), mth(&stored));
}
