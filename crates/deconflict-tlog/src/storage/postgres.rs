//! The PostgreSQL backend: the log's tables in the store's database. Appends lock the one row
//! of `tlog_head`, so that a pool's instances append in turn and each checks it built on the
//! stored size and that its keys are not stored terms yet; records and blocks go in with one
//! `unnest` statement each.

use super::{block_roots, page_bounds, BlockRow, Loaded, LogStorage, StorageError};
use crate::tree::BLOCK_HEIGHT;
use postgres::{Client, NoTls, Statement};
use std::sync::{Mutex, MutexGuard};

const SCHEMA: &str = "
SELECT pg_advisory_xact_lock(7361626);
CREATE TABLE IF NOT EXISTS tlog_records (idx BIGINT PRIMARY KEY, record BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS tlog_blocks (block BIGINT PRIMARY KEY, root BYTEA NOT NULL, hashes BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS tlog_checkpoints (size BIGINT PRIMARY KEY, note BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS tlog_terms (term TEXT NOT NULL, idx BIGINT NOT NULL, PRIMARY KEY (term, idx));
CREATE TABLE IF NOT EXISTS tlog_head (one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one), size BIGINT NOT NULL);
INSERT INTO tlog_head (one, size) VALUES (TRUE, 0) ON CONFLICT DO NOTHING;
";

/// A log in a PostgreSQL database.
pub struct PostgresLogStorage {
    writer: Mutex<Option<Client>>,
    reader: Mutex<Option<Client>>,
    /// The reader's frequent statements, prepared once: a proof's block read is then one round
    /// trip, not two (parse, then execute).
    reads: Reads,
}

/// Statements prepared on the reader connection.
struct Reads {
    block: Statement,
    blocks: Statement,
    find: Statement,
    records: Statement,
}

/// A locked connection; the `Option` is emptied only by `drop`.
struct Conn<'a>(MutexGuard<'a, Option<Client>>);

impl std::ops::Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0
            .as_ref()
            .expect("connections stay open until the storage is dropped")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.0
            .as_mut()
            .expect("connections stay open until the storage is dropped")
    }
}

fn lock(m: &Mutex<Option<Client>>) -> Conn<'_> {
    Conn(m.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Closing a connection of the blocking client runs a small runtime of its own, which panics
/// on a thread that drives async tasks (as when a server drops its state at shutdown): the
/// connections are closed on a thread of their own.
impl Drop for PostgresLogStorage {
    fn drop(&mut self) {
        let take =
            |m: &mut Mutex<Option<Client>>| m.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        let (w, r) = (take(&mut self.writer), take(&mut self.reader));
        let closed = std::thread::Builder::new()
            .name("deconflict-tlog-pg-close".into())
            .spawn(move || drop((w, r)))
            .map(std::thread::JoinHandle::join);
        if !matches!(closed, Ok(Ok(()))) {
            tracing::warn!("closing the log's PostgreSQL connections failed");
        }
    }
}

impl PostgresLogStorage {
    /// Connects to the database at `url` (a `postgres://` URL) and creates the log's tables if
    /// needed. Blocking: call it off an async runtime's threads.
    pub fn connect(url: &str) -> Result<Self, StorageError> {
        let mut writer = Client::connect(url, NoTls)?;
        let mut tx = writer.transaction()?;
        tx.batch_execute(SCHEMA)?;
        tx.commit()?;
        let mut reader = Client::connect(url, NoTls)?;
        let reads = Reads {
            block: reader.prepare("SELECT hashes FROM tlog_blocks WHERE block = $1")?,
            blocks: reader.prepare(
                "SELECT block, hashes FROM tlog_blocks WHERE block = ANY($1) ORDER BY block",
            )?,
            find: reader.prepare(
                "SELECT idx FROM tlog_terms WHERE term = $1 AND idx > $2 ORDER BY idx LIMIT $3",
            )?,
            records: reader.prepare(RECORDS)?,
        };
        Ok(Self {
            writer: Mutex::new(Some(writer)),
            reader: Mutex::new(Some(reader)),
            reads,
        })
    }
}

const RECORDS: &str =
    "SELECT idx, record FROM tlog_records WHERE idx >= $1 AND idx < $2 ORDER BY idx";

fn read_records<S: ?Sized + postgres::ToStatement>(
    c: &mut impl postgres::GenericClient,
    query: &S,
    from: u64,
    to: u64,
) -> Result<Vec<Vec<u8>>, StorageError> {
    let rows = c.query(query, &[&(from as i64), &(to as i64)])?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let i: i64 = r.get(0);
        if i as u64 != from + out.len() as u64 {
            return Err(StorageError::Corrupt(format!(
                "record {} is missing",
                from + out.len() as u64
            )));
        }
        out.push(r.get(1));
    }
    Ok(out)
}

impl LogStorage for PostgresLogStorage {
    fn load(&self, from_block: u64) -> Result<Loaded, StorageError> {
        let mut c = lock(&self.reader);
        let mut tx = c
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let size = tx
            .query_one("SELECT size FROM tlog_head", &[])?
            .get::<_, i64>(0) as u64;
        let blocks = size >> BLOCK_HEIGHT;
        let rows = tx.query(
            "SELECT block, root FROM tlog_blocks WHERE block >= $1 AND block < $2 ORDER BY block",
            &[&(from_block as i64), &(blocks as i64)],
        )?;
        let block_roots = block_roots(
            from_block,
            blocks,
            rows.into_iter().map(|r| (r.get(0), r.get(1))),
        )?;
        let tail = read_records(&mut tx, RECORDS, blocks << BLOCK_HEIGHT, size)?;
        tx.commit()?;
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
        let mut tx = c.transaction()?;
        let stored = tx
            .query_one("SELECT size FROM tlog_head FOR UPDATE", &[])?
            .get::<_, i64>(0) as u64;
        if stored != start {
            return Err(StorageError::Conflict {
                stored,
                expected: start,
            });
        }
        if !keys.is_empty() {
            // Read committed: this statement sees every append that held the head row before.
            // One primary-key look-up per key (LIMIT keeps the subquery a nested loop: `term =
            // ANY($1)` may be planned as a scan of every term).
            let present = tx.query(
                "SELECT k FROM unnest($1::TEXT[]) AS k, \
                 LATERAL (SELECT 1 FROM tlog_terms t WHERE t.term = k LIMIT 1) AS found",
                &[&keys],
            )?;
            if !present.is_empty() {
                return Err(StorageError::Present(
                    present.iter().map(|r| r.get(0)).collect(),
                ));
            }
        }
        let idx: Vec<i64> = (0..records.len() as i64)
            .map(|i| start as i64 + i)
            .collect();
        tx.execute(
            "INSERT INTO tlog_records (idx, record) SELECT * FROM unnest($1::BIGINT[], $2::BYTEA[])",
            &[&idx, &records],
        )?;
        if !terms.is_empty() {
            let (t, i): (Vec<&str>, Vec<i64>) = terms.iter().map(|(t, i)| (*t, *i as i64)).unzip();
            // No `ON CONFLICT`: the pairs are distinct and their entries new (the head row's
            // lock), and a speculative insertion costs an index probe and a WAL record per row.
            tx.execute(
                "INSERT INTO tlog_terms (term, idx) SELECT * FROM unnest($1::TEXT[], $2::BIGINT[])",
                &[&t, &i],
            )?;
        }
        if !blocks.is_empty() {
            let b: Vec<i64> = blocks.iter().map(|b| b.block as i64).collect();
            let roots: Vec<&[u8]> = blocks.iter().map(|b| &b.root.0[..]).collect();
            let hashes: Vec<&[u8]> = blocks.iter().map(|b| &b.hashes[..]).collect();
            tx.execute(
                "INSERT INTO tlog_blocks (block, root, hashes) \
                 SELECT * FROM unnest($1::BIGINT[], $2::BYTEA[], $3::BYTEA[])",
                &[&b, &roots, &hashes],
            )?;
        }
        tx.execute(
            "UPDATE tlog_head SET size = $1",
            &[&((start + records.len() as u64) as i64)],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn find(&self, term: &str, after: Option<u64>, limit: usize) -> Result<Vec<u64>, StorageError> {
        let (after, limit) = page_bounds(after, limit);
        let rows = lock(&self.reader).query(&self.reads.find, &[&term, &after, &limit])?;
        Ok(rows.iter().map(|r| r.get::<_, i64>(0) as u64).collect())
    }

    fn read_block(&self, block: u64) -> Result<Vec<u8>, StorageError> {
        let row = lock(&self.reader).query_opt(&self.reads.block, &[&(block as i64)])?;
        row.map(|r| r.get(0))
            .ok_or_else(|| StorageError::Corrupt(format!("block {block} is missing")))
    }

    fn read_blocks(&self, blocks: &[u64]) -> Result<Vec<Vec<u8>>, StorageError> {
        if let [one] = blocks {
            return Ok(vec![self.read_block(*one)?]);
        }
        let mut wanted: Vec<i64> = blocks.iter().map(|&b| b as i64).collect();
        let rows = lock(&self.reader).query(&self.reads.blocks, &[&wanted])?;
        let mut found: std::collections::HashMap<i64, Vec<u8>> =
            rows.into_iter().map(|r| (r.get(0), r.get(1))).collect();
        wanted
            .drain(..)
            .map(|b| {
                found
                    .remove(&b)
                    .ok_or_else(|| StorageError::Corrupt(format!("block {b} is missing")))
            })
            .collect()
    }

    fn read_records(&self, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        read_records(&mut *lock(&self.reader), &self.reads.records, from, to)
    }

    fn put_checkpoint(&self, size: u64, note: &[u8]) -> Result<(), StorageError> {
        lock(&self.writer).execute(
            "INSERT INTO tlog_checkpoints (size, note) VALUES ($1, $2) ON CONFLICT (size) DO NOTHING",
            &[&(size as i64), &note],
        )?;
        Ok(())
    }

    fn checkpoints(&self) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let rows = lock(&self.reader)
            .query("SELECT size, note FROM tlog_checkpoints ORDER BY size", &[])?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
            .collect())
    }

    fn latest_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StorageError> {
        let row = lock(&self.reader).query_opt(
            "SELECT size, note FROM tlog_checkpoints ORDER BY size DESC LIMIT 1",
            &[],
        )?;
        Ok(row.map(|r| (r.get::<_, i64>(0) as u64, r.get(1))))
    }
}
