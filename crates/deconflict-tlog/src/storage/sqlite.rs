//! The SQLite backend: WAL with `synchronous=FULL` (an append is on disk when it returns), one
//! connection for appends and one for reads, so that proofs are not held up by a commit.

use super::{block_roots, page_bounds, BlockRow, Loaded, LogStorage, StorageError};
use crate::tree::BLOCK_HEIGHT;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tlog_records (idx INTEGER PRIMARY KEY, record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tlog_blocks (block INTEGER PRIMARY KEY, root BLOB NOT NULL, hashes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tlog_checkpoints (size INTEGER PRIMARY KEY, note BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tlog_terms (term TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (term, idx)) WITHOUT ROWID;
";

/// A log in a SQLite file.
pub struct SqliteLogStorage {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

fn connect(path: &Path) -> Result<Connection, StorageError> {
    let c = Connection::open(path)?;
    c.busy_timeout(Duration::from_secs(10))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "FULL")?;
    Ok(c)
}

fn lock(m: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn size_of(c: &Connection) -> Result<u64, StorageError> {
    let n: i64 = c.query_row(
        "SELECT COALESCE(MAX(idx) + 1, 0) FROM tlog_records",
        [],
        |r| r.get(0),
    )?;
    Ok(n as u64)
}

impl SqliteLogStorage {
    /// Opens (creating if needed) the log's tables in the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StorageError> {
        let writer = connect(path.as_ref())?;
        writer.execute_batch(SCHEMA)?;
        let reader = connect(path.as_ref())?;
        Ok(Self {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }
}

impl LogStorage for SqliteLogStorage {
    fn load(&self, from_block: u64) -> Result<Loaded, StorageError> {
        let mut c = lock(&self.reader);
        let tx = c.transaction()?;
        let size = size_of(&tx)?;
        let blocks = size >> BLOCK_HEIGHT;
        let block_roots = {
            let mut q = tx.prepare(
                "SELECT block, root FROM tlog_blocks WHERE block >= ?1 AND block < ?2 ORDER BY block",
            )?;
            let rows = q
                .query_map(params![from_block as i64, blocks as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<Vec<(i64, Vec<u8>)>, _>>()?;
            block_roots(from_block, blocks, rows)?
        };
        let tail = read_records(&tx, blocks << BLOCK_HEIGHT, size)?;
        Ok(Loaded {
            size,
            block_roots,
            tail,
        })
    }

    fn append(
        &self,
        start: u64,
        records: &[&[u8]],
        terms: &[(&str, u64)],
        keys: &[&str],
        blocks: &[BlockRow],
    ) -> Result<(), StorageError> {
        let mut c = lock(&self.writer);
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let stored = size_of(&tx)?;
        if stored != start {
            return Err(StorageError::Conflict {
                stored,
                expected: start,
            });
        }
        {
            let mut stored =
                tx.prepare_cached("SELECT 1 FROM tlog_terms WHERE term = ?1 LIMIT 1")?;
            let mut present = Vec::new();
            for key in keys {
                if stored.exists(params![key])? {
                    present.push((*key).to_owned());
                }
            }
            if !present.is_empty() {
                return Err(StorageError::Present(present));
            }
        }
        {
            let mut ins =
                tx.prepare_cached("INSERT INTO tlog_records (idx, record) VALUES (?1, ?2)")?;
            for (i, r) in records.iter().enumerate() {
                ins.execute(params![(start + i as u64) as i64, r])?;
            }
            let mut ins =
                tx.prepare_cached("INSERT OR IGNORE INTO tlog_terms (term, idx) VALUES (?1, ?2)")?;
            for (term, idx) in terms {
                ins.execute(params![term, *idx as i64])?;
            }
            let mut ins = tx.prepare_cached(
                "INSERT INTO tlog_blocks (block, root, hashes) VALUES (?1, ?2, ?3)",
            )?;
            for b in blocks {
                ins.execute(params![b.block as i64, &b.root.0[..], b.hashes])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn find(&self, term: &str, after: Option<u64>, limit: usize) -> Result<Vec<u64>, StorageError> {
        let c = lock(&self.reader);
        let mut q = c.prepare_cached(
            "SELECT idx FROM tlog_terms WHERE term = ?1 AND idx > ?2 ORDER BY idx LIMIT ?3",
        )?;
        let (after, limit) = page_bounds(after, limit);
        let rows = q.query_map(params![term, after, limit], |r| r.get::<_, i64>(0))?;
        Ok(rows
            .map(|r| r.map(|i| i as u64))
            .collect::<Result<_, _>>()?)
    }

    fn read_block(&self, block: u64) -> Result<Vec<u8>, StorageError> {
        let c = lock(&self.reader);
        let mut q = c.prepare_cached("SELECT hashes FROM tlog_blocks WHERE block = ?1")?;
        q.query_row(params![block as i64], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StorageError::Corrupt(format!("block {block} is missing")))
    }

    fn read_records(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        read_records(&lock(&self.reader), from, to)
    }

    fn put_checkpoint(&self, size: u64, note: &[u8]) -> Result<(), StorageError> {
        lock(&self.writer).execute(
            "INSERT OR IGNORE INTO tlog_checkpoints (size, note) VALUES (?1, ?2)",
            params![size as i64, note],
        )?;
        Ok(())
    }

    fn checkpoints(&self) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let c = lock(&self.reader);
        let mut q = c.prepare_cached("SELECT size, note FROM tlog_checkpoints ORDER BY size")?;
        let rows = q.query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        let c = lock(&self.reader);
        let mut q =
            c.prepare_cached("SELECT size, note FROM tlog_checkpoints ORDER BY size DESC LIMIT 1")?;
        Ok(
            q.query_row([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
                .optional()?,
        )
    }
}

fn read_records(c: &Connection, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StorageError> {
    let mut q = c.prepare_cached(
        "SELECT idx, record FROM tlog_records WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
    )?;
    let mut rows = q.query(params![from as i64, to as i64])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let i: i64 = r.get(0)?;
        if i as u64 != from + out.len() as u64 {
            return Err(StorageError::Corrupt(format!(
                "record {} is missing",
                from + out.len() as u64
            )));
        }
        out.push(r.get(1)?);
    }
    Ok(out)
}
