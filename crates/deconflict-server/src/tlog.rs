//! The tamper-evident log beside the store (`docs/log.md`): opened with it (a file of its own
//! beside the SQLite database, or tables in the PostgreSQL database), signed with the key kept
//! in the data directory (named by the configured origin, `[log] origin`), and checkpointed
//! every few seconds while it grows.

use std::sync::Arc;
use std::time::Duration;

use deconflict_tlog::{
    hash_b64, leaf_hash, Log, LogError, LogKey, LogStorage, PostgresLogStorage, SqliteLogStorage,
};
use serde::Serialize;

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

/// Proof that an entry is in the log: the entry, and its inclusion proof in the tree of a
/// signed checkpoint (signed on demand if none covered the entry yet). A party keeps it and
/// checks it offline against the log's public key (`docs/api.md`, "Keeping and checking
/// receipts").
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    /// The entry's index in the log.
    pub index: u64,
    /// The RFC 6962 leaf hash of the record, base64.
    pub leaf_hash: String,
    /// The canonical record, as hashed.
    pub record: String,
    /// The signed checkpoint (C2SP signed note) the proof is against.
    pub checkpoint: String,
    /// Its tree size.
    pub tree_size: u64,
    /// The RFC 9162 inclusion proof, base64 hashes.
    pub proof: Vec<String>,
}

impl ServedLog {
    /// The receipts of the entries at `indexes`, all against one checkpoint: the latest if it
    /// covers them, else one signed now. Blocking.
    pub fn prove(&self, indexes: &[u64]) -> Result<Vec<Receipt>, LogError> {
        let (log, key) = (&self.log, &self.key);
        let Some(&last) = indexes.iter().max() else {
            return Ok(Vec::new());
        };
        let cp = match log.latest_checkpoint(key)? {
            Some(cp) if cp.size > last => cp,
            _ => {
                // Another instance of a pool may have appended the entry.
                if last >= log.size() {
                    log.catch_up()?;
                }
                log.checkpoint(key)?
            }
        };
        indexes
            .iter()
            .map(|&index| {
                let proof = log.inclusion_proof(index, cp.size)?;
                let record = log
                    .records(index, index + 1)?
                    .pop()
                    .ok_or_else(|| LogError::Invalid(format!("log entry {index} is missing")))?;
                Ok(Receipt {
                    index,
                    leaf_hash: hash_b64(&leaf_hash(&record)),
                    record: String::from_utf8_lossy(&record).into_owned(),
                    checkpoint: cp.note.clone(),
                    tree_size: cp.size,
                    proof: proof.iter().map(hash_b64).collect(),
                })
            })
            .collect()
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
    let log = Log::open(storage).map_err(|e| e.to_string())?;
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
