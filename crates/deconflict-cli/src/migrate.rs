//! `deconflict migrate`: bring the store's schema up to this build's version without serving,
//! and say which version it is at. `deconflict serve` does the same at start-up; this is for
//! upgrades done as a separate step (before starting the new version of a pool's instances).

use std::path::PathBuf;

use anyhow::Context;
use deconflict_server::config::StoreConfig;
use deconflict_server::{Config, ServeArgs, DATABASE_FILE};
use deconflict_store::SqliteStore;

#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// A TOML configuration file; only its `store` and `data_dir` are used.
    #[arg(long, env = "DECONFLICT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// `sqlite` (the database in the data directory) or `postgres://user:password@host:port/db`
    /// [default: sqlite].
    #[arg(long, env = "DECONFLICT_STORE", value_name = "URL", value_parser = StoreConfig::parse)]
    pub store: Option<StoreConfig>,
    /// Directory of the SQLite database [default: ./deconflict-data].
    #[arg(long, env = "DECONFLICT_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// The configuration these flags name (also used by `deconflict log-export`).
pub fn load_config(args: MigrateArgs) -> anyhow::Result<Config> {
    Config::load(&ServeArgs {
        config: args.config,
        store: args.store,
        data_dir: args.data_dir,
        ..ServeArgs::default()
    })
    .context("configuration")
}

/// Runs on a blocking thread: both stores' clients block.
pub fn run(args: MigrateArgs) -> anyhow::Result<()> {
    crate::logging::init();
    let config = load_config(args)?;
    match &config.store {
        StoreConfig::Sqlite => sqlite(&config.data_dir.join(DATABASE_FILE)),
        StoreConfig::Postgres { url } => {
            let shown = config.store.describe();
            let applied =
                deconflict_store::migrate(url).with_context(|| format!("migrating {shown}"))?;
            println!("store: {shown}");
            println!("applied: {}", list(&applied));
            println!("schema version: {}", deconflict_store::SCHEMA_VERSION);
            Ok(())
        }
    }
}

fn sqlite(path: &std::path::Path) -> anyhow::Result<()> {
    let version = |path: &std::path::Path| -> anyhow::Result<i64> {
        let conn = rusqlite::Connection::open(path)?;
        Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
    };
    let before = if path.exists() {
        version(path).with_context(|| format!("reading {}", path.display()))?
    } else {
        0
    };
    let store = SqliteStore::open(path).with_context(|| format!("opening {}", path.display()))?;
    let (ois, constraints, subscriptions) = store.counts()?;
    drop(store);
    let after = version(path).with_context(|| format!("reading {}", path.display()))?;
    println!("store: sqlite {}", path.display());
    println!(
        "applied: {}",
        list(&((before + 1)..=after).collect::<Vec<_>>())
    );
    println!("schema version: {after}");
    println!(
        "holds: {ois} operational intents, {constraints} constraints, {subscriptions} subscriptions"
    );
    Ok(())
}

fn list(versions: &[i64]) -> String {
    if versions.is_empty() {
        return "none (the schema was current)".into();
    }
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
