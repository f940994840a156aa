//! The in-memory image of the database that an instance answers from, and how it is kept
//! coherent with the writes of every instance.
//!
//! Write transactions are numbered 1, 2, 3 ... in commit order without gaps (`log_head`, see
//! migration 2), and every row a transaction writes carries its number. The image knows the
//! number it reflects; one statement ([`changes_since`]) returns the rows written after it and
//! the number it then reflects. A read first has such a statement run that *started after the
//! read arrived* (so it sees every write acknowledged before, through any instance), then
//! answers from memory. Reads that arrive together share one statement ([`Image::sync`]): a
//! read waits for the statement in flight, if any, and then for the next, which one of the
//! waiting readers runs for all. Readers waiting for catch-up `n` sleep on condition variable
//! `n % 2`, so that the end of a catch-up wakes the readers it serves and one reader to run
//! the next, not every reader waiting.

use std::sync::{Condvar, Mutex, RwLock, RwLockReadGuard};

use deconflict_core::memstate::{Documents, MemState, Table};
use deconflict_core::store::Change;
use deconflict_core::{DssError, Result};

use super::conn::Conn;
use super::error::PgError;
use super::rows::{changes_since, Changes};

/// The entities and the number of the last transaction they reflect.
pub(crate) struct State {
    pub mem: MemState,
    pub seq: i64,
}

pub(crate) struct Image {
    state: RwLock<State>,
    sync: Mutex<Syncs>,
    synced: [Condvar; 2],
}

/// Catch-up statements run for readers, by number.
#[derive(Default)]
struct Syncs {
    started: u64,
    finished: u64,
    /// The last one that succeeded.
    ok: u64,
    running: bool,
    /// Why the last one that failed did.
    error: Option<Failure>,
}

/// Why a catch-up failed, kept for every reader it was to serve (a [`DssError`] is not
/// `Clone`): unavailable (503) or internal (500), and the message.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    unavailable: bool,
    message: String,
}

impl Failure {
    pub(crate) fn of(e: &DssError) -> Self {
        Self {
            unavailable: matches!(e, DssError::Unavailable(_)),
            message: match e {
                DssError::Unavailable(m) | DssError::Internal(m) => m.clone(),
                other => other.to_string(),
            },
        }
    }

    pub(crate) fn error(failure: Option<&Self>) -> DssError {
        match failure {
            Some(f) if f.unavailable => DssError::Unavailable(f.message.clone()),
            Some(f) => DssError::Internal(f.message.clone()),
            None => DssError::Internal("a catch-up failed".into()),
        }
    }
}

fn poisoned<T>(_: T) -> DssError {
    DssError::Internal("a storage lock was poisoned by an earlier panic".into())
}

/// Builds a whole image from what a load from `-1` read.
fn build(changes: Vec<Change>) -> MemState {
    let mut ois = Vec::new();
    let mut constraints = Vec::new();
    let mut subs = Vec::new();
    let mut availability = std::collections::HashMap::new();
    let mut documents = Documents::default();
    for c in changes {
        match c {
            Change::PutOperationalIntent(e) => ois.push(e),
            Change::PutConstraint(e) => constraints.push(e),
            Change::PutSubscription(e) => subs.push(e),
            Change::PutAvailability(a) => {
                availability.insert(a.uss.clone(), a);
            }
            Change::PutDocument(d) => documents.put(d),
            // A load from -1 reads no tombstones; reports are not kept in memory.
            _ => {}
        }
    }
    MemState {
        operational_intents: Table::bulk(ois),
        constraints: Table::bulk(constraints),
        subscriptions: Table::bulk(subs),
        availability,
        documents,
    }
}

impl Image {
    /// An image of nothing, until [`Image::load`].
    pub(crate) fn empty() -> Self {
        Self {
            state: RwLock::new(State {
                mem: MemState::default(),
                seq: -1,
            }),
            sync: Mutex::new(Syncs::default()),
            synced: [Condvar::new(), Condvar::new()],
        }
    }

    /// Loads everything from one snapshot.
    pub(crate) fn load(conn: &mut Conn) -> Result<Self, PgError> {
        let started = std::time::Instant::now();
        let all = changes_since(conn, -1)?;
        let mem = build(all.changes);
        tracing::info!(
            operational_intents = mem.operational_intents.len(),
            constraints = mem.constraints.len(),
            subscriptions = mem.subscriptions.len(),
            seq = all.head,
            load_s = started.elapsed().as_secs_f64(),
            "store loaded into memory"
        );
        Ok(Self {
            state: RwLock::new(State { mem, seq: all.head }),
            sync: Mutex::new(Syncs::default()),
            synced: [Condvar::new(), Condvar::new()],
        })
    }

    pub(crate) fn read(&self) -> Result<RwLockReadGuard<'_, State>> {
        self.state.read().map_err(poisoned)
    }

    pub(crate) fn seq(&self) -> Result<i64> {
        Ok(self.read()?.seq)
    }

    /// Brings the image up to what `conn` sees: to the head it reads, or to `upto` when given
    /// (inside a write transaction, whose own number the head already shows). A change set
    /// read from number N applied to the image at any number from N up to the head gives the
    /// state at the head (it holds the final state of every entity changed after N); an image
    /// that has meanwhile gone past the head is left as it is.
    pub(crate) fn catch_up(&self, conn: &mut Conn, upto: Option<i64>) -> Result<(), PgError> {
        let after = self.seq().map_err(|e| PgError::Corrupt(e.to_string()))?;
        let mut read = changes_since(conn, after)?;
        let mut full = false;
        if read.pruned > after {
            // Deletions this image has not seen may have left no tombstone: load it all.
            tracing::info!(
                image = after,
                pruned = read.pruned,
                "the image is older than the kept tombstones; loading it again"
            );
            read = changes_since(conn, -1)?;
            full = true;
        }
        self.install(read, full, upto)
    }

    /// Brings the image up to `upto` (default: the head read) with what a catch-up read:
    /// everything (`full`), or the changes after a number the image was at or past when the
    /// read started.
    pub(crate) fn install(
        &self,
        read: Changes,
        full: bool,
        upto: Option<i64>,
    ) -> Result<(), PgError> {
        let Changes { head, changes, .. } = read;
        let upto = upto.unwrap_or(head);
        let (mem, changes) = if full {
            (Some(build(changes)), Vec::new())
        } else {
            (None, changes)
        };
        let mut state = self
            .state
            .write()
            .map_err(|e| PgError::Corrupt(e.to_string()))?;
        if state.seq > upto {
            return Ok(());
        }
        match mem {
            Some(mem) => state.mem = mem,
            None => state.mem.apply(&changes),
        }
        state.seq = upto;
        Ok(())
    }

    /// Applies the changes of this instance's own transaction `seq`, just committed, unless a
    /// catch-up already brought them in.
    pub(crate) fn apply_own(&self, seq: i64, changes: &[Change]) -> Result<()> {
        let mut state = self.state.write().map_err(poisoned)?;
        if state.seq == seq - 1 {
            state.mem.apply(changes);
            state.seq = seq;
        }
        Ok(())
    }

    /// Makes sure that a catch-up (`run`) that started after this call has finished, running
    /// it when no other caller is; see the module documentation.
    pub(crate) fn sync(&self, run: impl FnOnce() -> Result<()>) -> Result<()> {
        let mut s = self.sync.lock().map_err(poisoned)?;
        let need = s.started + 1;
        let mut run = Some(run);
        loop {
            if s.ok >= need {
                return Ok(());
            }
            if s.finished >= need {
                return Err(Failure::error(s.error.as_ref()));
            }
            if s.running {
                s = self.synced[(need % 2) as usize].wait(s).map_err(poisoned)?;
                continue;
            }
            let Some(run) = run.take() else {
                return Err(DssError::Internal("a catch-up ran twice".into()));
            };
            s.running = true;
            s.started += 1;
            let mine = s.started;
            drop(s);
            let result = run();
            s = self.sync.lock().map_err(poisoned)?;
            s.running = false;
            s.finished = mine;
            match &result {
                Ok(()) => s.ok = mine,
                Err(e) => s.error = Some(Failure::of(e)),
            }
            drop(s);
            self.synced[(mine % 2) as usize].notify_all();
            // One of the readers that arrived during this one runs the next.
            self.synced[((mine + 1) % 2) as usize].notify_one();
            return result;
        }
    }
}
