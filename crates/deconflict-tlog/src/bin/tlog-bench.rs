//! `deconflict-tlog-bench`: the log's performance figures (`docs/performance.md`, "The
//! tamper-evident log"). Bounded: it appends `--appends` records, builds one log of
//! `--proof-size` entries and times `--proofs` proofs of each kind, then removes what it made
//! (unless `--dir` names a folder to keep, where a log already big enough is reused).
//!
//! ```sh
//! cargo run --release -p deconflict-tlog --bin deconflict-tlog-bench
//! cargo run --release -p deconflict-tlog --bin deconflict-tlog-bench -- --postgres postgres://...
//! ```

use deconflict_tlog::{Log, LogStorage, PostgresLogStorage, Record, SqliteLogStorage};
use std::path::PathBuf;
use std::time::{Duration, Instant};

struct Args {
    appends: u64,
    batch: u64,
    proof_size: u64,
    proofs: u64,
    dir: Option<PathBuf>,
    postgres: Option<String>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        appends: 200_000,
        batch: 1_000,
        proof_size: 10_000_000,
        proofs: 20_000,
        dir: None,
        postgres: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--appends" => a.appends = num(value()?)?,
            "--batch" => a.batch = num(value()?)?.max(1),
            "--proof-size" => a.proof_size = num(value()?)?.max(2),
            "--proofs" => a.proofs = num(value()?)?.max(1),
            "--dir" => a.dir = Some(PathBuf::from(value()?)),
            "--postgres" => a.postgres = Some(value()?),
            _ => {
                return Err(format!(
                    "unknown flag {flag}; flags: --appends N --batch N --proof-size N --proofs N \
                     --dir DIR --postgres URL"
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

fn appends<S: LogStorage>(name: &str, log: &Log<S>, a: &Args) -> Result<(), String> {
    let batches: Vec<Vec<Vec<u8>>> = (0..a.appends)
        .step_by(a.batch as usize)
        .map(|from| {
            (from..(from + a.batch).min(a.appends))
                .map(record)
                .collect()
        })
        .collect();
    let bytes: usize = batches.iter().flatten().map(Vec::len).sum();
    let t = Instant::now();
    for b in batches {
        log.append_encoded(b).map_err(|e| e.to_string())?;
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "{name}: appended {} records ({} bytes each on average) in batches of {}: {:.2} s, {:.0} entries/s, durable at each batch",
        a.appends,
        bytes as u64 / a.appends.max(1),
        a.batch,
        s,
        a.appends as f64 / s
    );
    Ok(())
}

/// This process's CPU time (user + system) in seconds, from /proc (Linux), to state a figure
/// that other processes' load on the machine does not inflate.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Appends one record per call from `threads` threads at once: what a server's requests do.
fn single_appends<S: LogStorage>(
    name: &str,
    log: &Log<S>,
    total: u64,
    threads: u64,
) -> Result<(), String> {
    let start = log.size();
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
                .map_err(|e| e.to_string())
        })
    })?;
    let s = t.elapsed().as_secs_f64();
    println!(
        "{name}: appended {total} records one per call from {threads} threads (group commit): {s:.2} s, {:.0} entries/s",
        total as f64 / s
    );
    Ok(())
}

fn percentiles(name: &str, mut d: Vec<Duration>, cpu: Option<f64>) {
    d.sort_unstable();
    let at = |q: f64| d[((d.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    let mean = d.iter().sum::<Duration>().as_secs_f64() * 1e6 / d.len() as f64;
    println!(
        "  {name}: {} proofs, mean {mean:.1} µs, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        d.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
    if let Some(cpu) = cpu {
        println!(
            "    CPU time (user + system) per proof: {:.1} µs",
            cpu * 1e6 / d.len() as f64
        );
    }
}

/// A small deterministic generator, so that runs ask for the same proofs.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn proofs<S: LogStorage>(log: &Log<S>, n: u64, count: u64) -> Result<(), String> {
    let mut x = 0x9e37_79b9_7f4a_7c15;
    let mut inc = Vec::with_capacity(count as usize);
    let cpu = cpu_seconds();
    for _ in 0..count {
        let i = next(&mut x) % n;
        let t = Instant::now();
        let p = log.inclusion_proof(i, n).map_err(|e| e.to_string())?;
        inc.push(t.elapsed());
        std::hint::black_box(p);
    }
    let used = cpu.zip(cpu_seconds()).map(|(a, b)| b - a);
    percentiles(
        &format!("inclusion proof, random entry, tree size {n}"),
        inc,
        used,
    );
    let mut con = Vec::with_capacity(count as usize);
    let cpu = cpu_seconds();
    for _ in 0..count {
        let old = 1 + next(&mut x) % (n - 1);
        let new = old + next(&mut x) % (n - old + 1);
        let t = Instant::now();
        let p = log.consistency_proof(old, new).map_err(|e| e.to_string())?;
        con.push(t.elapsed());
        std::hint::black_box(p);
    }
    let used = cpu.zip(cpu_seconds()).map(|(a, b)| b - a);
    percentiles("consistency proof, random sizes", con, used);
    Ok(())
}

fn run(a: Args) -> Result<(), String> {
    let dir = a.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("deconflict-tlog-bench-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let outcome = measure(&a, &dir);
    if a.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

fn measure(a: &Args, dir: &std::path::Path) -> Result<(), String> {
    let path = dir.join("appends.sqlite");
    let _ = std::fs::remove_file(&path);
    let log = Log::open(SqliteLogStorage::open(&path).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    appends("SQLite (WAL, synchronous=FULL)", &log, a)?;
    single_appends("SQLite", &log, a.appends / 4, 64)?;
    drop(log);
    for f in ["appends.sqlite", "appends.sqlite-wal", "appends.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    if let Some(url) = &a.postgres {
        let log = Log::open(PostgresLogStorage::connect(url).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        if log.size() != 0 {
            return Err("the PostgreSQL database must hold no log yet".into());
        }
        appends("PostgreSQL", &log, a)?;
        single_appends("PostgreSQL", &log, a.appends / 4, 64)?;
    }

    let path = dir.join("proofs.sqlite");
    let log = Log::open(SqliteLogStorage::open(&path).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    if log.size() < a.proof_size {
        // Bulk build: 16-byte records (the index twice), in large batches through the
        // ordinary append path; the tree's hashes are the same work as for real records.
        let t = Instant::now();
        let mut i = log.size();
        while i < a.proof_size {
            let end = (i + 100_000).min(a.proof_size);
            log.append_encoded(
                (i..end)
                    .map(|k| [k.to_le_bytes(), k.to_be_bytes()].concat())
                    .collect(),
            )
            .map_err(|e| e.to_string())?;
            i = end;
        }
        println!(
            "built a log of {} entries in {:.1} s",
            a.proof_size,
            t.elapsed().as_secs_f64()
        );
    }
    let n = a.proof_size;
    let t = Instant::now();
    drop(log);
    let log = Log::open(SqliteLogStorage::open(&path).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    println!(
        "opened it again (memory rebuilt from block roots) in {:.2} s; hashes held in memory: {} bytes",
        t.elapsed().as_secs_f64(),
        log.memory_bytes()
    );
    let file: u64 = ["proofs.sqlite", "proofs.sqlite-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "file: {file} bytes for {n} entries of 16 bytes: {:.1} bytes per entry beyond the record",
        file as f64 / n as f64 - 16.0
    );
    proofs(&log, n, a.proofs)?;
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
