//! `deconflict-tlog-bench`: the log's performance figures (`docs/performance.md`, "The
//! tamper-evident log"), on SQLite (files in a temporary folder) or on a PostgreSQL database
//! (`--store postgres://...`). Bounded: it appends `--appends` records, builds one log of
//! `--proof-size` entries (stopping after `--build-secs`, at the size reached) and times
//! `--proofs` proofs of each kind, then removes the SQLite files (unless `--dir` names a folder
//! to keep, where a log already big enough is reused; a PostgreSQL log is left in its database
//! and reused the same way).
//!
//! ```sh
//! cargo run --release -p deconflict-tlog --bin deconflict-tlog-bench
//! cargo run --release -p deconflict-tlog --bin deconflict-tlog-bench -- --store postgres://...
//! ```

use deconflict_tlog::{
    Keyed, Log, LogOptions, LogStorage, PostgresLogStorage, Record, SqliteLogStorage,
};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Args {
    appends: u64,
    batch: u64,
    proof_size: u64,
    build_secs: u64,
    proofs: u64,
    dir: Option<PathBuf>,
    store: Option<String>,
    cache_mib: Option<u64>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        appends: 200_000,
        batch: 1_000,
        proof_size: 10_000_000,
        build_secs: 600,
        proofs: 20_000,
        dir: None,
        store: None,
        cache_mib: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--appends" => a.appends = num(value()?)?,
            "--batch" => a.batch = num(value()?)?.max(1),
            "--proof-size" => a.proof_size = num(value()?)?.max(2),
            "--build-secs" => a.build_secs = num(value()?)?,
            "--proofs" => a.proofs = num(value()?)?.max(1),
            "--dir" => a.dir = Some(PathBuf::from(value()?)),
            "--cache-mib" => a.cache_mib = Some(num(value()?)?),
            "--store" => {
                let url = value()?;
                if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
                    return Err(format!("--store: {url} is not a postgres:// URL"));
                }
                a.store = Some(url);
            }
            _ => {
                return Err(format!(
                    "unknown flag {flag}; flags: --appends N --batch N --proof-size N \
                     --build-secs N --proofs N --dir DIR --store postgres://URL --cache-mib N"
                ))
            }
        }
    }
    Ok(a)
}

/// A record of the size the humanitarian layer and the DSS will write (about 260 bytes).
fn record(i: u64) -> Vec<u8> {
    Record::dss_write_key(
        "2026-11-27T21:00:00.000Z",
        format!("party-{}", i % 50),
        "operational_intent",
        format!("0b3c9a1e-4f2d-4c1a-9e7b-{i:012}"),
        &format!("{i:032x}"),
        &[format!("{:032x}", i * 7), format!("{:032x}", i * 13)],
    )
    .to_bytes()
    .unwrap_or_default()
}

type Bench = Log<Box<dyn LogStorage>>;

/// Where the logs live: SQLite files in a folder, or one PostgreSQL database (with a connection
/// of its own to read sizes and its server processes' CPU time).
enum Backend {
    Sqlite(PathBuf),
    Postgres {
        url: String,
        monitor: Box<Mutex<postgres::Client>>,
    },
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "SQLite (WAL, synchronous=FULL)",
            Backend::Postgres { .. } => "PostgreSQL",
        }
    }

    /// The log named `file` (SQLite), or the database's one log.
    fn open(&self, file: &str, options: LogOptions) -> Result<Bench, String> {
        let storage: Box<dyn LogStorage> = match self {
            Backend::Sqlite(dir) => Box::new(SqliteLogStorage::open(dir.join(file)).map_err(err)?),
            Backend::Postgres { url, .. } => {
                Box::new(PostgresLogStorage::connect(url).map_err(err)?)
            }
        };
        Log::open_with(storage, options).map_err(err)
    }

    /// A new, empty log named `file`, or `None` if the database holds a log already.
    fn fresh(&self, file: &str) -> Result<Option<Bench>, String> {
        if let Backend::Sqlite(dir) = self {
            remove(dir, file);
        }
        let log = self.open(file, LogOptions::default())?;
        Ok((log.size() == 0).then_some(log))
    }

    /// Bytes the log named `file` takes (files, or relations with their indexes and TOAST),
    /// and the bytes of its records.
    fn sizes(&self, file: &str) -> Result<(u64, u64), String> {
        match self {
            Backend::Sqlite(dir) => {
                let total = ["", "-wal"]
                    .iter()
                    .filter_map(|s| std::fs::metadata(dir.join(format!("{file}{s}"))).ok())
                    .map(|m| m.len())
                    .sum();
                let c = rusqlite::Connection::open(dir.join(file)).map_err(err)?;
                let records: i64 = c
                    .query_row(
                        "SELECT COALESCE(SUM(length(record)), 0) FROM tlog_records",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(err)?;
                Ok((total, records as u64))
            }
            Backend::Postgres { monitor, .. } => {
                let mut c = monitor.lock().unwrap_or_else(|e| e.into_inner());
                let row = c
                    .query_one(
                        "SELECT (SELECT SUM(pg_total_relation_size(t))::BIGINT FROM unnest(\
                           ARRAY['tlog_records', 'tlog_blocks', 'tlog_terms', 'tlog_checkpoints', \
                           'tlog_head']::regclass[]) t), \
                         (SELECT COALESCE(SUM(octet_length(record)), 0)::BIGINT FROM tlog_records)",
                        &[],
                    )
                    .map_err(err)?;
                Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
            }
        }
    }

    /// Bytes of each of the log's relations (PostgreSQL: with indexes and TOAST), largest first.
    fn relations(&self) -> Result<Vec<(String, u64)>, String> {
        let Backend::Postgres { monitor, .. } = self else {
            return Ok(Vec::new());
        };
        let mut c = monitor.lock().unwrap_or_else(|e| e.into_inner());
        let rows = c
            .query(
                "SELECT t::TEXT, pg_total_relation_size(t)::BIGINT FROM unnest(ARRAY['tlog_records', \
                 'tlog_blocks', 'tlog_terms', 'tlog_checkpoints', 'tlog_head']::regclass[]) t \
                 ORDER BY 2 DESC",
                &[],
            )
            .map_err(err)?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
            .collect())
    }

    /// CPU ticks (user + system) of each of the database server's processes, if readable.
    fn server_ticks(&self) -> HashMap<i32, u64> {
        let Backend::Postgres { monitor, .. } = self else {
            return HashMap::new();
        };
        let mut c = monitor.lock().unwrap_or_else(|e| e.into_inner());
        let pids = c
            .query(
                "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
                &[],
            )
            .map(|rows| rows.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>())
            .unwrap_or_default();
        pids.into_iter()
            .filter_map(|p| Some((p, ticks(&format!("/proc/{p}/stat"))?)))
            .collect()
    }
}

fn remove(dir: &Path, file: &str) {
    for s in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.join(format!("{file}{s}")));
    }
}

/// utime + stime of a process, in clock ticks, from its /proc stat file (Linux).
fn ticks(stat: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(stat).ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU time used from a start on, by this process and by the database server's processes:
/// figures that other processes' load on the machine does not inflate.
struct Cpu<'a> {
    backend: &'a Backend,
    own: Option<u64>,
    server: HashMap<i32, u64>,
}

impl<'a> Cpu<'a> {
    fn start(backend: &'a Backend) -> Self {
        Cpu {
            backend,
            own: ticks("/proc/self/stat"),
            server: backend.server_ticks(),
        }
    }

    /// "CPU per op: ..." for `ops` operations since the start (ticks are 10 ms).
    fn per(&self, ops: u64, unit: &str) -> String {
        let us = |t: u64| t as f64 * 1e4 / ops.max(1) as f64;
        let mut out = match self.own.zip(ticks("/proc/self/stat")) {
            Some((a, b)) => format!("CPU per {unit}: {:.2} µs in this process", us(b - a)),
            None => return String::new(),
        };
        if matches!(self.backend, Backend::Postgres { .. }) {
            let server: u64 = self
                .backend
                .server_ticks()
                .iter()
                .map(|(p, t)| t.saturating_sub(self.server.get(p).copied().unwrap_or(0)))
                .sum();
            out += &format!(", {:.2} µs in PostgreSQL's processes", us(server));
        }
        out
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn appends(b: &Backend, log: &Bench, a: &Args) -> Result<(), String> {
    let batches: Vec<Vec<Vec<u8>>> = (0..a.appends)
        .step_by(a.batch as usize)
        .map(|from| {
            (from..(from + a.batch).min(a.appends))
                .map(record)
                .collect()
        })
        .collect();
    let bytes: usize = batches.iter().flatten().map(Vec::len).sum();
    let cpu = Cpu::start(b);
    let t = Instant::now();
    for batch in batches {
        log.append_encoded(batch).map_err(err)?;
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{}: appended {} records ({} bytes each on average) in batches of {}: {:.2} s, {:.0} entries/s, durable at each batch; {}",
        b.name(),
        a.appends,
        bytes as u64 / a.appends.max(1),
        a.batch,
        s,
        a.appends as f64 / s,
        cpu.per(a.appends, "entry")
    );
    Ok(())
}

/// Appends as the server's Recorder does: batches of records with their index terms and an
/// `event:<n>` term, keyed by it (`append_once`: each key checked in the append's transaction)
/// or, to show what the check costs, not (`append_indexed`).
fn indexed_appends(b: &Backend, log: &Bench, a: &Args, keyed: bool) -> Result<(), String> {
    let start = log.size();
    let total = a.appends / 4;
    let batches: Vec<Vec<Keyed>> = (start..start + total)
        .step_by(a.batch as usize)
        .map(|from| {
            (from..(from + a.batch).min(start + total))
                .map(|i| {
                    let record = record(i);
                    let mut terms = Record::from_bytes(&record)
                        .map(|r| r.index_terms())
                        .unwrap_or_default();
                    let key = format!("event:{i}");
                    terms.push(key.clone());
                    Keyed { key, record, terms }
                })
                .collect()
        })
        .collect();
    let terms: usize = batches.iter().flatten().map(|k| k.terms.len()).sum();
    let cpu = Cpu::start(b);
    let t = Instant::now();
    for batch in batches {
        if keyed {
            log.append_once(batch).map_err(err)?;
        } else {
            log.append_indexed(batch.into_iter().map(|k| (k.record, k.terms)).collect())
                .map_err(err)?;
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{}: appended {total} records with {:.1} index terms each (event:<n> included) in batches of {}, {}: {s:.2} s, {:.0} entries/s; {}",
        b.name(),
        terms as f64 / total.max(1) as f64,
        a.batch,
        if keyed {
            "keyed by event:<n> (append_once, as the Recorder)"
        } else {
            "not keyed (append_indexed)"
        },
        total as f64 / s,
        cpu.per(total, "entry")
    );
    Ok(())
}

/// Appends one record per call from `threads` threads at once: what a server's requests do.
fn single_appends(b: &Backend, log: &Bench, total: u64, threads: u64) -> Result<(), String> {
    let start = log.size();
    let cpu = Cpu::start(b);
    let t = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|w| {
                scope.spawn(move || {
                    (w..total)
                        .step_by(threads as usize)
                        .try_for_each(|i| log.append_encoded(vec![record(start + i)]).map(|_| ()))
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .map_err(|_| "a writer panicked".to_string())?
                .map_err(err)
        })
    })?;
    let s = t.elapsed().as_secs_f64();
    println!(
        "{}: appended {total} records one per call from {threads} threads (group commit): {s:.2} s, {:.0} entries/s; {}",
        b.name(),
        total as f64 / s,
        cpu.per(total, "entry")
    );
    Ok(())
}

fn percentiles(name: &str, mut d: Vec<Duration>, cpu: &Cpu<'_>) {
    d.sort_unstable();
    let at = |q: f64| d[((d.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    let mean = d.iter().sum::<Duration>().as_secs_f64() * 1e6 / d.len() as f64;
    println!(
        "  {name}: {} proofs, wall mean {mean:.1} µs, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        d.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    println!("    {}", cpu.per(d.len() as u64, "proof"));
}

/// A small deterministic generator, so that runs ask for the same proofs.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// A random complete block none of `used` (at most `blocks` are asked for).
fn fresh_block(x: &mut u64, blocks: u64, used: &mut HashSet<u64>) -> u64 {
    loop {
        let b = next(x) % blocks;
        if used.insert(b) {
            return b;
        }
    }
}

/// Inclusion proofs of `entries` in the tree of `n`, timed one by one.
fn inclusions(b: &Backend, log: &Bench, n: u64, entries: &[u64], name: &str) -> Result<(), String> {
    let mut d = Vec::with_capacity(entries.len());
    let cpu = Cpu::start(b);
    for &i in entries {
        let t = Instant::now();
        let p = log.inclusion_proof(i, n).map_err(err)?;
        d.push(t.elapsed());
        std::hint::black_box(p);
    }
    percentiles(name, d, &cpu);
    Ok(())
}

/// Consistency proofs of `pairs` (old, new), timed one by one.
fn consistencies(b: &Backend, log: &Bench, pairs: &[(u64, u64)], name: &str) -> Result<(), String> {
    let mut d = Vec::with_capacity(pairs.len());
    let cpu = Cpu::start(b);
    for &(old, new) in pairs {
        let t = Instant::now();
        let p = log.consistency_proof(old, new).map_err(err)?;
        d.push(t.elapsed());
        std::hint::black_box(p);
    }
    percentiles(name, d, &cpu);
    Ok(())
}

/// Proofs on the log of `n` entries just opened (so its block cache is empty): first those
/// whose block rows are read for the first time ("cold": each a storage read), then the same
/// blocks again as far as the cache holds them ("cached"), then random entries and sizes as a
/// mix of both.
fn proofs(b: &Backend, log: &Bench, n: u64, count: u64) -> Result<(), String> {
    let blocks = n / deconflict_tlog::BLOCK_LEAVES;
    let cap = log.cached_blocks().1 as u64;
    let mut x = 0x9e37_79b9_7f4a_7c15;
    let within = |x: &mut u64, block: u64| {
        block * deconflict_tlog::BLOCK_LEAVES + next(x) % deconflict_tlog::BLOCK_LEAVES
    };
    let mut used = HashSet::new();

    let first = count.min(blocks / 3);
    let cold: Vec<u64> = (0..first)
        .map(|_| fresh_block(&mut x, blocks, &mut used))
        .collect();
    let entries: Vec<u64> = cold.iter().map(|&blk| within(&mut x, blk)).collect();
    inclusions(
        b,
        log,
        n,
        &entries,
        &format!("inclusion proof, tree size {n}, cold: each the first proof touching its block"),
    )?;
    // The newest `cap` of those blocks are cached: other entries of them, in rounds up to
    // `count` proofs (enough CPU time to measure in 10 ms ticks).
    let kept = &cold[cold.len() - (cap as usize).min(cold.len())..];
    let entries: Vec<u64> = kept
        .iter()
        .cycle()
        .take(count as usize)
        .map(|&blk| within(&mut x, blk))
        .collect();
    inclusions(
        b,
        log,
        n,
        &entries,
        &format!(
            "inclusion proof, cached: entries of the newest {} blocks touched",
            kept.len()
        ),
    )?;

    // Consistency: old sizes ending in an untouched block, new sizes in another or the tail.
    let pairs: Vec<(u64, u64)> = (0..first / 2)
        .map(|_| {
            let ob = fresh_block(&mut x, blocks, &mut used);
            let old = within(&mut x, ob) + 1;
            let new = if next(&mut x).is_multiple_of(4) {
                n
            } else {
                let nb = fresh_block(&mut x, blocks, &mut used);
                (within(&mut x, nb) + 1).max(old)
            };
            (old, new)
        })
        .collect();
    consistencies(
        b,
        log,
        &pairs,
        "consistency proof, cold: each touching one or two blocks not read before",
    )?;
    let kept = &pairs[pairs.len() - (cap as usize / 2).min(pairs.len())..];
    let again: Vec<(u64, u64)> = kept.iter().cycle().take(count as usize).copied().collect();
    consistencies(
        b,
        log,
        &again,
        &format!(
            "consistency proof, cached: the last {} pairs again, in rounds",
            kept.len()
        ),
    )?;

    let entries: Vec<u64> = (0..count).map(|_| next(&mut x) % n).collect();
    inclusions(
        b,
        log,
        n,
        &entries,
        &format!("inclusion proof, random entries (cache of {cap} blocks of {blocks})"),
    )?;
    let pairs: Vec<(u64, u64)> = (0..count)
        .map(|_| {
            let old = 1 + next(&mut x) % (n - 1);
            (old, old + next(&mut x) % (n - old + 1))
        })
        .collect();
    consistencies(b, log, &pairs, "consistency proof, random sizes")?;
    Ok(())
}

fn run(a: Args) -> Result<(), String> {
    let dir = a.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("deconflict-tlog-bench-{}", std::process::id()))
    });
    let backend = match &a.store {
        Some(url) => Backend::Postgres {
            url: url.clone(),
            monitor: Box::new(Mutex::new(
                postgres::Client::connect(url, postgres::NoTls).map_err(err)?,
            )),
        },
        None => {
            std::fs::create_dir_all(&dir).map_err(err)?;
            Backend::Sqlite(dir.clone())
        }
    };
    println!("load average at the start: {}", load_average());
    let outcome = measure(&a, &backend);
    println!("load average at the end: {}", load_average());
    if a.dir.is_none() && a.store.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

fn measure(a: &Args, b: &Backend) -> Result<(), String> {
    match b.fresh("appends.sqlite")? {
        Some(log) => {
            appends(b, &log, a)?;
            indexed_appends(b, &log, a, false)?;
            indexed_appends(b, &log, a, true)?;
            single_appends(b, &log, a.appends / 4, 64)?;
        }
        None => println!(
            "{}: the database holds a log already: appends not measured, the log reused for proofs",
            b.name()
        ),
    }
    if let Backend::Sqlite(dir) = b {
        remove(dir, "appends.sqlite");
    }

    // On PostgreSQL the proofs are made on the same log, grown.
    let options = LogOptions {
        cache_bytes: a
            .cache_mib
            .map_or(deconflict_tlog::DEFAULT_CACHE_BYTES, |m| (m as usize) << 20),
    };
    let log = b.open("proofs.sqlite", options.clone())?;
    if log.size() < a.proof_size {
        // Bulk build: 16-byte records (the index twice), in large batches through the
        // ordinary append path; the tree's hashes are the same work as for real records.
        let cpu = Cpu::start(b);
        let t = Instant::now();
        let from = log.size();
        let mut i = from;
        let mut reported = i;
        while i < a.proof_size && t.elapsed().as_secs() < a.build_secs {
            let end = (i + 100_000).min(a.proof_size);
            log.append_encoded(
                (i..end)
                    .map(|k| [k.to_le_bytes(), k.to_be_bytes()].concat())
                    .collect(),
            )
            .map_err(err)?;
            i = end;
            if i - reported >= 1_000_000 {
                reported = i;
                println!(
                    "  {i} entries after {:.1} s (load average {})",
                    t.elapsed().as_secs_f64(),
                    load_average()
                );
            }
        }
        println!(
            "built a log of {} entries ({} added) in {:.1} s{}; {}",
            i,
            i - from,
            t.elapsed().as_secs_f64(),
            if i < a.proof_size {
                format!(", stopped by --build-secs {}", a.build_secs)
            } else {
                String::new()
            },
            cpu.per(i - from, "entry")
        );
    }
    let t = Instant::now();
    drop(log);
    let log = b.open("proofs.sqlite", options.clone())?;
    let n = log.size();
    println!(
        "opened it again (memory rebuilt from block roots) in {:.2} s; {n} entries; hashes held in memory: {} bytes, and a cache of up to {} block rows ({} bytes)",
        t.elapsed().as_secs_f64(),
        log.memory_bytes(),
        log.cached_blocks().1,
        options.cache_bytes
    );
    let (total, records) = b.sizes("proofs.sqlite")?;
    println!(
        "storage: {total} bytes for {n} entries holding {records} bytes of records: {:.1} bytes per entry beyond the record",
        (total - records.min(total)) as f64 / n as f64
    );
    for (relation, bytes) in b.relations()? {
        println!(
            "  {relation}: {bytes} bytes, {:.1} per entry",
            bytes as f64 / n as f64
        );
    }
    proofs(b, &log, n, a.proofs)?;
    Ok(())
}

fn main() {
    match parse().and_then(run) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("deconflict-tlog-bench: {e}");
            std::process::exit(2);
        }
    }
}
