//! Durable storage of the log, one trait and two backends: SQLite (a file of its own beside the
//! store's database, or the store's own file: the tables are prefixed `tlog_`) and PostgreSQL
//! (the tables beside the store's, in the same database, shared by a pool's instances).
//!
//! Five tables: `tlog_records` (index, canonical record), `tlog_blocks` (block index, its root,
//! the 510 hashes of its levels 0-7, see `tree`), `tlog_checkpoints` (tree size, signed note),
//! `tlog_terms` (term, index: what [`LogStorage::find`] looks up, written with the records)
//! and, on PostgreSQL, `tlog_head` (the size, locked by each append so that a pool's instances
//! append one after the other). An append writes records and completed blocks in one
//! transaction, and is refused as a [`StorageError::Conflict`] if the stored size is not the
//! one the appender built on (another instance appended first): the appender then catches up
//! and builds again. It is refused as [`StorageError::Present`] if one of the keys it was given
//! is already a stored term (an event another instance logged first): the appender then builds
//! again without those entries. Both checks run after the append has the log to itself (the
//! head row's lock, SQLite's write lock), so they see every earlier append.

mod postgres;
mod sqlite;

pub use self::postgres::PostgresLogStorage;
pub use self::sqlite::SqliteLogStorage;
pub use crate::tree::BlockRow;
use tlog_tiles::Hash;

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("the log holds {stored} entries, not {expected}: another writer appended first")]
    Conflict { stored: u64, expected: u64 },
    #[error("the log already holds entries with the keys {0:?}")]
    Present(Vec<String>),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// What memory is rebuilt from (see [`LogStorage::load`]).
#[derive(Debug, Default)]
pub struct Loaded {
    /// Entries stored.
    pub size: u64,
    /// Roots of the complete blocks from the one asked for on.
    pub block_roots: Vec<Hash>,
    /// Records of the incomplete last block, from its first.
    pub tail: Vec<Vec<u8>>,
}

/// Durable storage of one log. Implementations are blocking (run them off an async runtime's
/// threads) and safe to share between threads; reads do not wait for an append's commit.
pub trait LogStorage: Send + Sync + 'static {
    /// The roots of complete blocks `from_block..` and the records of the incomplete block.
    fn load(&self, from_block: u64) -> Result<Loaded, StorageError>;
    /// Stores `records` as entries `start..`, their index `terms` (term, entry index; no pair
    /// twice), and the
    /// blocks they complete, in one durable transaction; [`StorageError::Conflict`] if the log
    /// does not hold exactly `start` entries, else [`StorageError::Present`] (naming them) if
    /// some of `keys` are stored terms already.
    fn append(
        &self,
        start: u64,
        records: &[&[u8]],
        terms: &[(&str, u64)],
        keys: &[&str],
        blocks: &[BlockRow],
    ) -> Result<(), StorageError>;
    /// The indexes of the entries appended with `term`, in increasing order: the first
    /// `limit` above `after` (from the start when `None`).
    fn find(&self, term: &str, after: Option<u64>, limit: usize) -> Result<Vec<u64>, StorageError>;
    /// The hashes of levels 0-7 of a complete block.
    fn read_block(&self, block: u64) -> Result<Vec<u8>, StorageError>;
    /// The rows of `blocks` (distinct), in order; [`StorageError::Corrupt`] if one is missing.
    fn read_blocks(&self, blocks: &[u64]) -> Result<Vec<Vec<u8>>, StorageError> {
        blocks.iter().map(|&b| self.read_block(b)).collect()
    }
    /// Records `from..to` (fewer if the log is shorter).
    fn read_records(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StorageError>;
    /// Keeps a signed checkpoint of `size` (the first one kept for a size stays).
    fn put_checkpoint(&self, size: u64, note: &[u8]) -> Result<(), StorageError>;
    /// Every kept checkpoint, by size.
    fn checkpoints(&self) -> Result<Vec<(u64, Vec<u8>)>, StorageError>;
    /// The checkpoint of the largest size.
    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError>;
}

/// So that a server holds one `Log<Box<dyn LogStorage>>` whichever backend it opened.
impl LogStorage for Box<dyn LogStorage> {
    fn load(&self, from_block: u64) -> Result<Loaded, StorageError> {
        (**self).load(from_block)
    }
    fn append(
        &self,
        start: u64,
        records: &[&[u8]],
        terms: &[(&str, u64)],
        keys: &[&str],
        blocks: &[BlockRow],
    ) -> Result<(), StorageError> {
        (**self).append(start, records, terms, keys, blocks)
    }
    fn find(&self, term: &str, after: Option<u64>, limit: usize) -> Result<Vec<u64>, StorageError> {
        (**self).find(term, after, limit)
    }
    fn read_block(&self, block: u64) -> Result<Vec<u8>, StorageError> {
        (**self).read_block(block)
    }
    fn read_blocks(&self, blocks: &[u64]) -> Result<Vec<Vec<u8>>, StorageError> {
        (**self).read_blocks(blocks)
    }
    fn read_records(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        (**self).read_records(from, to)
    }
    fn put_checkpoint(&self, size: u64, note: &[u8]) -> Result<(), StorageError> {
        (**self).put_checkpoint(size, note)
    }
    fn checkpoints(&self) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        (**self).checkpoints()
    }
    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        (**self).latest_checkpoint()
    }
}

impl<S: LogStorage> crate::tree::BlockSource for S {
    fn read_block(&self, block: u64) -> Result<Vec<u8>, StorageError> {
        LogStorage::read_block(self, block)
    }
    fn read_blocks(&self, blocks: &[u64]) -> Result<Vec<Vec<u8>>, StorageError> {
        LogStorage::read_blocks(self, blocks)
    }
}

/// The roots of blocks `from_block..blocks` from `(block, root)` rows in order, refusing gaps.
/// `after` and `limit` of [`LogStorage::find`] as SQL parameters: indexes are below 2^63, so
/// -1 is below them all, and a limit past `i64::MAX` means none.
pub(crate) fn page_bounds(after: Option<u64>, limit: usize) -> (i64, i64) {
    let after = after.map_or(-1, |a| i64::try_from(a).unwrap_or(i64::MAX));
    (after, i64::try_from(limit).unwrap_or(i64::MAX))
}

pub(crate) fn block_roots(
    from_block: u64,
    blocks: u64,
    rows: impl IntoIterator<Item = (i64, Vec<u8>)>,
) -> Result<Vec<Hash>, StorageError> {
    let mut roots = Vec::new();
    for (b, root) in rows {
        if b as u64 != from_block + roots.len() as u64 {
            return Err(StorageError::Corrupt(format!(
                "block {b} is out of sequence"
            )));
        }
        roots.push(hash_from(&root, "a block root")?);
    }
    if from_block + roots.len() as u64 != blocks.max(from_block) {
        return Err(StorageError::Corrupt(format!(
            "{} complete blocks expected, {} stored",
            blocks,
            from_block + roots.len() as u64
        )));
    }
    Ok(roots)
}

fn hash_from(bytes: &[u8], what: &str) -> Result<Hash, StorageError> {
    bytes
        .try_into()
        .map(Hash)
        .map_err(|_| StorageError::Corrupt(format!("{what} is {} bytes, not 32", bytes.len())))
}
