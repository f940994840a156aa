//! `seed-direct`: write seeded intents straight into a store (a SQLite file, or a PostgreSQL
//! database with `--store`), through the same rules the server applies, without HTTP. For
//! start-up and memory measurements at sizes that would take too long to seed over HTTP on a
//! small machine. No server may be running on that store.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::Utc;
use deconflict_core::limits::Limits;
use deconflict_core::rules::{operational_intents, Caller};
use deconflict_core::store::Store;
use deconflict_core::{parse, store};
use deconflict_store::{PostgresStore, SqliteStore};
use serde::Serialize;
use uuid::Uuid;

use crate::region;

#[derive(Debug, Clone, clap::Args)]
pub struct SeedDirectArgs {
    /// The server's data directory; the store is `deconflict.sqlite3` inside it.
    #[arg(long, required_unless_present = "store")]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL database (`postgres://user:password@host:port/db`) to write into instead.
    #[arg(long, value_name = "URL", conflicts_with = "data_dir")]
    pub store: Option<String>,
    /// Intents to create.
    #[arg(long, default_value_t = 1_000_000)]
    pub count: u64,
    /// First slot number (see `seed --offset`).
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Intents per transaction.
    #[arg(long, default_value_t = 5_000)]
    pub batch: u64,
    /// The manager (`sub`) the intents belong to.
    #[arg(long, default_value = "bench-seed")]
    pub manager: String,
}

/// The file name `deconflict serve` uses in its data directory.
pub const DATABASE_FILE: &str = "deconflict.sqlite3";

#[derive(Debug, Serialize)]
pub struct SeedDirectReport {
    pub created: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub open_seconds: f64,
    /// The SQLite file's size (none for PostgreSQL).
    pub database_bytes: Option<u64>,
}

pub fn run(args: &SeedDirectArgs) -> Result<SeedDirectReport> {
    anyhow::ensure!(
        args.offset + args.count <= region::CAPACITY,
        "the region holds {} non-intersecting intents; lower --count or --offset",
        region::CAPACITY
    );
    let t_open = Instant::now();
    let (store, path): (Box<dyn Store>, Option<PathBuf>) = match (&args.store, &args.data_dir) {
        (Some(url), _) => (
            Box::new(PostgresStore::open(url).context("opening the PostgreSQL store")?),
            None,
        ),
        (None, Some(dir)) => {
            let path = dir.join(DATABASE_FILE);
            let store =
                SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?;
            (Box::new(store), Some(path))
        }
        (None, None) => anyhow::bail!("give --data-dir or --store"),
    };
    let open_seconds = t_open.elapsed().as_secs_f64();
    let caller = Caller {
        manager: args.manager.clone(),
        strategic_coordination: true,
        constraint_processing: false,
    };
    let limits = Limits::default();
    let now = Utc::now();
    let t0 = region::seed_t0(now);
    let mut rng = rand::rng();
    let start = Instant::now();
    let mut created = 0u64;
    let mut last_print = Instant::now();
    while created < args.count {
        let n = args.batch.max(1).min(args.count - created);
        let mut reqs = Vec::with_capacity(n as usize);
        for i in created..created + n {
            let body = region::put_body(
                region::seed_volume(args.offset + i, t0, &mut rng),
                Vec::new(),
            );
            let id = Uuid::new_v4().to_string();
            let req = parse::put_operational_intent(&id, None, &body, &limits, now)
                .map_err(|e| anyhow::anyhow!("intent {i}: {e}"))?;
            reqs.push(req);
        }
        store::write(&*store, |tx| {
            for req in &reqs {
                operational_intents::put(tx, &caller, req, now)?;
            }
            Ok(())
        })
        .map_err(|e| anyhow::anyhow!("writing a batch: {e}"))?;
        created += n;
        if last_print.elapsed().as_secs() >= 5 {
            eprintln!(
                "seed-direct: {created}/{} ({:.0}/s)",
                args.count,
                created as f64 / start.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
    }
    drop(store);
    let seconds = start.elapsed().as_secs_f64();
    Ok(SeedDirectReport {
        created,
        seconds,
        per_second: created as f64 / seconds.max(1e-9),
        open_seconds,
        database_bytes: path
            .and_then(|p| std::fs::metadata(p).ok())
            .map(|m| m.len()),
    })
}
