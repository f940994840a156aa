//! Storage backends of deconflict. [`SqliteStore`] keeps everything in one SQLite file and
//! answers reads from memory.
//!
//! Writes are serialised in-process and committed in groups: each write runs its rules against
//! the committed state plus the writes queued ahead of it, then joins the next batch; one
//! thread (the first to arrive) commits the batch with a single fsync and applies it to memory,
//! and every write in it is acknowledged. Overlapping writes therefore cost no more than
//! disjoint ones, and no write is acknowledged before it is durable.
//!
//! The DSS reads whose answers become keys ([`Store::read_staged`]) see the writes staged for
//! a commit too ("early lock release"): under contention every operation would otherwise lose
//! its first write to the commit in flight. Other reads see committed writes only.

mod codec;
mod error;
mod postgres;
mod sqlite;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

use deconflict_core::memstate::{Layered, MemState, Overlay, Pending};
use deconflict_core::model::Timestamp;
use deconflict_core::store::{CatchUp, Expired, ReadTx, Store, Ticket, Tx};
use deconflict_core::{DssError, Result};
use rusqlite::Connection;
use tokio::sync::watch;

pub use crate::postgres::{migrate, PgError, PostgresOptions, PostgresStore, SCHEMA_VERSION};
pub use error::StoreError;

/// The embedded store: one SQLite file (WAL, synchronous commits) and its image in memory.
pub struct SqliteStore {
    mem: RwLock<MemState>,
    batch: Mutex<BatchState>,
    /// Whether `batch` holds staged writes (open or in flight): only then do reads take its
    /// lock.
    staged: AtomicBool,
    /// The highest batch whose commit has finished, for writers awaiting it without a thread.
    done: watch::Sender<u64>,
    flushed: Condvar,
    health: Mutex<Connection>,
}

struct BatchState {
    /// Validated writes waiting for the next commit.
    open: Pending,
    open_seq: u64,
    /// The batch being committed now, if any; new writes validate against it too.
    inflight: Option<Arc<Pending>>,
    /// Highest batch whose commit has finished (successfully or not).
    done_seq: u64,
    failed: BTreeSet<u64>,
    last_error: String,
    /// Taken by the committing thread.
    conn: Option<Connection>,
    /// Whether a thread holds the committing role ([`SqliteStore::commit_all`]).
    committing: bool,
}

fn poisoned<T>(_: T) -> DssError {
    DssError::Internal("a storage lock was poisoned by an earlier panic".into())
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and loads it into memory.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let conn = sqlite::open(path)?;
        let mem = sqlite::load(&conn)?;
        let health = Connection::open(path)?;
        Ok(Self {
            mem: RwLock::new(mem),
            batch: Mutex::new(BatchState {
                open: Pending::default(),
                open_seq: 1,
                inflight: None,
                done_seq: 0,
                failed: BTreeSet::new(),
                last_error: String::new(),
                conn: Some(conn),
                committing: false,
            }),
            flushed: Condvar::new(),
            staged: AtomicBool::new(false),
            done: watch::Sender::new(0),
            health: Mutex::new(health),
        })
    }

    /// Entities held, by kind (operational intents, constraints, subscriptions).
    pub fn counts(&self) -> Result<(usize, usize, usize)> {
        let m = self.mem.read().map_err(poisoned)?;
        Ok((
            m.operational_intents.len(),
            m.constraints.len(),
            m.subscriptions.len(),
        ))
    }

    /// Waits until batch `seq` is committed; if nobody is committing, takes that role and
    /// commits until no batch is left.
    fn wait_for_batch<'a>(&'a self, mut st: MutexGuard<'a, BatchState>, seq: u64) -> Result<()> {
        loop {
            if st.done_seq >= seq {
                return if st.failed.contains(&seq) {
                    Err(StoreError::CommitFailed(st.last_error.clone()).into())
                } else {
                    Ok(())
                };
            }
            if st.committing {
                st = self.flushed.wait(st).map_err(poisoned)?;
                continue;
            }
            st.committing = true;
            st = self.commit_all(st)?;
        }
    }

    /// Commits batch after batch until none is left, then gives up the committing role (which
    /// the caller holds). Writers that await their commit without a thread rely on this: a
    /// batch staged while the role is held is committed before the role is given up.
    fn commit_all<'a>(
        &'a self,
        mut st: MutexGuard<'a, BatchState>,
    ) -> Result<MutexGuard<'a, BatchState>> {
        while !st.open.is_empty() {
            st = self.commit_open(st)?;
        }
        st.committing = false;
        self.flushed.notify_all();
        Ok(st)
    }

    /// Commits the open batch (the caller holds the committing role) outside the lock, so that
    /// the next batch can fill meanwhile, applies it to memory and tells its writers.
    fn commit_open<'a>(
        &'a self,
        mut st: MutexGuard<'a, BatchState>,
    ) -> Result<MutexGuard<'a, BatchState>> {
        let batch = Arc::new(std::mem::take(&mut st.open));
        let batch_seq = st.open_seq;
        st.open_seq += 1;
        st.inflight = Some(batch.clone());
        let mut conn = st
            .conn
            .take()
            .ok_or_else(|| DssError::Internal("commit connection missing".into()))?;
        drop(st);

        let result = sqlite::persist(&mut conn, batch.changes());
        if result.is_ok() {
            self.mem.write().map_err(poisoned)?.apply(batch.changes());
        }

        st = self.batch.lock().map_err(poisoned)?;
        st.conn = Some(conn);
        st.inflight = None;
        self.staged.store(!st.open.is_empty(), Ordering::Release);
        st.done_seq = batch_seq;
        if let Err(e) = result {
            tracing::error!(error = %e, batch = batch_seq, "commit failed");
            // The open batch was validated against this one; it cannot stand either.
            st.failed.insert(batch_seq);
            let open_seq = st.open_seq;
            st.failed.insert(open_seq);
            st.open = Pending::default();
            self.staged.store(false, Ordering::Release);
            st.open_seq += 1;
            st.done_seq = st.open_seq - 1;
            st.last_error = e.to_string();
        }
        while st.failed.len() > 64 {
            st.failed.pop_first();
        }
        self.flushed.notify_all();
        self.done.send_replace(st.done_seq);
        Ok(st)
    }
}

impl Store for SqliteStore {
    fn read(&self, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        let mem = self.mem.read().map_err(poisoned)?;
        f(&*mem)
    }

    fn read_staged(&self, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        if !self.staged.load(Ordering::Acquire) {
            return self.read(f);
        }
        let st = self.batch.lock().map_err(poisoned)?;
        self.with_staged(&st, |view| f(view))
    }

    fn write(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        match self.stage_write(f)? {
            Some(seq) => self.wait_for_batch(self.batch.lock().map_err(poisoned)?, seq),
            None => Ok(()),
        }
    }

    fn stage(
        &self,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>,
    ) -> Option<Result<Option<Ticket>>> {
        Some(self.stage_write(f).map(|seq| seq.map(Ticket)))
    }

    fn await_commit(&self, ticket: Ticket) -> Result<()> {
        self.wait_for_batch(self.batch.lock().map_err(poisoned)?, ticket.0)
    }

    fn commit_finished(&self, ticket: &Ticket) -> Option<CatchUp<'static>> {
        let (mut done, seq) = (self.done.subscribe(), ticket.0);
        Some(Box::pin(async move {
            done.wait_for(|d| *d >= seq)
                .await
                .map(|_| ())
                .map_err(|_| DssError::Internal("the store was closed".into()))
        }))
    }

    fn claim_commits(&self) -> bool {
        match self.batch.lock() {
            Ok(mut st) if !st.committing => {
                st.committing = true;
                true
            }
            _ => false,
        }
    }

    fn run_commits(&self) {
        let done = self
            .batch
            .lock()
            .map_err(poisoned)
            .and_then(|st| self.commit_all(st).map(drop));
        if let Err(e) = done {
            tracing::error!(error = %e, "committing staged writes failed");
        }
    }

    fn expired(&self, cutoff: Timestamp) -> Result<Expired> {
        Ok(self.mem.read().map_err(poisoned)?.expired(cutoff))
    }

    fn health(&self) -> Result<()> {
        let conn = self.health.lock().map_err(poisoned)?;
        sqlite::ping(&conn).map_err(DssError::from)
    }

    fn reads_from_memory(&self) -> bool {
        true
    }
}

impl SqliteStore {
    /// Runs `f` against the committed state plus every write queued ahead of it and queues its
    /// changes for the next commit: the batch number to await, or `None` when `f` changed
    /// nothing. Never waits on I/O (only on the locks, held for in-memory work).
    fn stage_write(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<Option<u64>> {
        let mut st = self.batch.lock().map_err(poisoned)?;
        let mine = self.with_staged(&st, |view| {
            let mut overlay = Overlay::new(view);
            f(&mut overlay)?;
            Ok(overlay.into_pending())
        })?;
        if mine.is_empty() {
            return Ok(None);
        }
        st.open.merge(mine);
        self.staged.store(true, Ordering::Release);
        Ok(Some(st.open_seq))
    }

    /// Runs `f` on the committed state with the batch in flight and the open batch laid over
    /// it, while `st` (the batch lock) keeps both still.
    fn with_staged<T>(
        &self,
        st: &BatchState,
        f: impl FnOnce(&dyn ReadTx) -> Result<T>,
    ) -> Result<T> {
        let mem = self.mem.read().map_err(poisoned)?;
        let empty = Pending::default();
        let below = Layered {
            base: &*mem,
            top: st.inflight.as_deref().unwrap_or(&empty),
        };
        let view = Layered {
            base: &below,
            top: &st.open,
        };
        f(&view)
    }
}
