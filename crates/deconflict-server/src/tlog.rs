//! The tamper-evident log beside the store (`docs/log.md`): opened with it (a file of its own
//! beside the SQLite database, or tables in the PostgreSQL database), signed with the key kept
//! in the data directory (named by the configured origin, `[log] origin`), and checkpointed
//! every few seconds while it grows.

use std::sync::Arc;
use std::time::Duration;

pub use deconflict_tlog::Receipt;
use deconflict_tlog::{
    Log, LogError, LogKey, LogOptions, LogStorage, PostgresLogStorage, SqliteLogStorage,
};

use crate::config::{Config, StoreConfig};
use crate::serve::ServeError;

/// The log's SQLite file, beside the store's in the data directory.
pub const LOG_FILE: &str = "deconflict-log.sqlite3";
/// The log's private signing key (signed-note text form), in the data directory. A pool's
/// instances must share it.
pub const LOG_KEY_FILE: &str = "log-signing.key";
/// How often the checkpointer looks for new entries.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(2);

/// The log a server appends to and serves, and its key.
pub struct ServedLog {
    pub log: Arc<Log<Box<dyn LogStorage>>>,
    pub key: LogKey,
}

impl ServedLog {
    /// The receipts of the entries at `indexes`, all against one checkpoint signed with this
    /// server's key ([`Log::receipts`]). Blocking.
    pub fn prove(&self, indexes: &[u64]) -> Result<Vec<Receipt>, LogError> {
        self.log.receipts(indexes, &self.key)
    }
}

/// Opens the log and its key (making the key on first use). Blocking: storage and key file.
pub fn open_blocking(config: &Config) -> Result<ServedLog, String> {
    let storage: Box<dyn LogStorage> = match &config.store {
        StoreConfig::Sqlite => Box::new(
            SqliteLogStorage::open(config.data_dir.join(LOG_FILE)).map_err(|e| e.to_string())?,
        ),
        StoreConfig::Postgres { url } => {
            Box::new(PostgresLogStorage::connect(url).map_err(|e| e.to_string())?)
        }
    };
    let options = LogOptions {
        cache_bytes: config.log_cache_bytes,
    };
    let log = Log::open_with(storage, options).map_err(|e| e.to_string())?;
    let key = LogKey::load_or_create(&config.data_dir.join(LOG_KEY_FILE), &config.log_origin)
        .map_err(|e| e.to_string())?;
    Ok(ServedLog {
        log: Arc::new(log),
        key,
    })
}

/// [`open_blocking`] off the async threads.
pub(crate) async fn open(config: &Config) -> Result<ServedLog, ServeError> {
    let config = config.clone();
    let opened = tokio::task::spawn_blocking(move || open_blocking(&config))
        .await
        .map_err(|e| ServeError::Startup(format!("opening the log panicked: {e}")))?
        .map_err(|e| ServeError::Startup(format!("opening the log: {e}")))?;
    tracing::info!(
        entries = opened.log.size(),
        public_key = opened.key.verifier_key(),
        "log open"
    );
    Ok(opened)
}

/// Signs a checkpoint every [`CHECKPOINT_EVERY`] while the log grows; abort the task to stop.
pub(crate) fn spawn_checkpointer(served: &ServedLog) -> tokio::task::JoinHandle<()> {
    tokio::spawn(deconflict_tlog::run_checkpointer(
        Arc::clone(&served.log),
        served.key.clone(),
        CHECKPOINT_EVERY,
        std::future::pending(),
    ))
}
