//! An appender killed with SIGKILL mid-stream loses no acknowledged entry, and the log it
//! leaves opens to a consistent tree. The test runs itself as the child process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use deconflict_tlog::{Log, Record, SqliteLogStorage};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD: &str = "DECONFLICT_TLOG_CRASH_CHILD";
const NAME: &str = "a_killed_appender_loses_no_acknowledged_entry";

/// The child: appends batches of 7 and says after each one how many entries are durable.
/// Bounded, in case the parent dies before killing it.
fn child(path: &str) {
    let log = Log::open(SqliteLogStorage::open(path).unwrap()).unwrap();
    let started = Instant::now();
    let mut out = std::io::stdout().lock();
    while started.elapsed() < Duration::from_secs(20) {
        let n = log.size();
        let r = log.append(&common::records(n, n + 7)).unwrap();
        writeln!(out, "acked {}", r.end).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn a_killed_appender_loses_no_acknowledged_entry() {
    if let Ok(path) = std::env::var(CHILD) {
        child(&path);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.sqlite");
    let mut acked = 0u64;
    for round in 0..3 {
        let mut c = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = BufReader::new(c.stdout.take().unwrap()).lines();
        let mut seen = 0;
        for line in lines {
            if let Some(n) = line.unwrap().strip_prefix("acked ") {
                acked = n.parse().unwrap();
                seen += 1;
                if seen == 40 + 13 * round {
                    break;
                }
            }
        }
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();

        let log = Log::open(SqliteLogStorage::open(&path).unwrap()).unwrap();
        let size = log.size();
        assert!(
            size >= acked,
            "round {round}: {acked} acknowledged, {size} found"
        );
        let stored = log.records(0, size).unwrap();
        for (i, r) in stored.iter().enumerate() {
            assert_eq!(Record::from_bytes(r).unwrap(), common::record(i as u64));
        }
        assert_eq!(
            log.root(size).unwrap(),
            common::mth(&stored),
            "round {round}"
        );
    }
}
