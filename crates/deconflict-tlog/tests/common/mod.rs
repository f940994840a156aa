//! Helpers of the log's test suites: reference tree hashes computed the plain recursive way of
//! RFC 9162 section 2.1.1, and sample records.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use deconflict_tlog::{Hash, Kind, Record};
use tlog_tiles::{node_hash, record_hash};

/// MTH(D[0:n]) by the RFC's definition.
pub fn mth(leaves: &[Vec<u8>]) -> Hash {
    match leaves.len() {
        0 => tlog_tiles::EMPTY_HASH,
        1 => record_hash(&leaves[0]),
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(mth(&leaves[..k]), mth(&leaves[k..]))
        }
    }
}

pub fn record(i: u64) -> Record {
    let mut body = serde_json::Map::new();
    body.insert("n".into(), i.into());
    Record {
        kind: Kind::Notification,
        time: format!("2026-11-27T20:{:02}:{:02}Z", (i / 60) % 60, i % 60),
        party: "alpha".into(),
        subject: format!("site-{i}"),
        body,
    }
}

pub fn records(from: u64, to: u64) -> Vec<Record> {
    (from..to).map(record).collect()
}

pub fn encoded(from: u64, to: u64) -> Vec<Vec<u8>> {
    records(from, to)
        .iter()
        .map(|r| r.to_bytes().unwrap())
        .collect()
}
