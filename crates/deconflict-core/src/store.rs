//! The storage contract: what the rules read and write inside one atomic transaction.
//!
//! A backend runs a closure inside a transaction and commits what it wrote only if the closure
//! succeeded, so that "check the key, then write" is one atomic step. The closure may be run
//! again by a backend that retries on serialization failures, so it must be free of side
//! effects outside the transaction.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use deconflict_geo::PreparedVolume;

use crate::error::{DssError, Result};
use crate::ids::EntityId;
use crate::model::{
    Constraint, Document, OperationalIntent, Report, Subscription, Timestamp, UssAvailability,
};

/// Reads within a transaction (or a consistent snapshot). Area lookups return every stored
/// entity whose extents intersect `area`, expired or not; the rules decide what is live.
pub trait ReadTx {
    fn operational_intent(&self, id: EntityId) -> Result<Option<Arc<OperationalIntent>>>;
    fn constraint(&self, id: EntityId) -> Result<Option<Arc<Constraint>>>;
    fn subscription(&self, id: EntityId) -> Result<Option<Arc<Subscription>>>;
    fn operational_intents_in(
        &self,
        area: &[PreparedVolume],
    ) -> Result<Vec<Arc<OperationalIntent>>>;
    fn constraints_in(&self, area: &[PreparedVolume]) -> Result<Vec<Arc<Constraint>>>;
    fn subscriptions_in(&self, area: &[PreparedVolume]) -> Result<Vec<Arc<Subscription>>>;
    fn availability(&self, uss: &str) -> Result<Option<UssAvailability>>;
    /// The operational intents in `area` that `keep` accepts. A backend may ask `keep` before
    /// its exact geometric test, so that a cheap filter (the key check's "its OVN is not in
    /// the key") spares that test for every entity it rejects.
    fn operational_intents_in_where(
        &self,
        area: &[PreparedVolume],
        keep: &dyn Fn(&OperationalIntent) -> bool,
    ) -> Result<Vec<Arc<OperationalIntent>>> {
        let mut found = self.operational_intents_in(area)?;
        found.retain(|e| keep(e));
        Ok(found)
    }
    /// The constraints in `area` that `keep` accepts, as
    /// [`operational_intents_in_where`](Self::operational_intents_in_where).
    fn constraints_in_where(
        &self,
        area: &[PreparedVolume],
        keep: &dyn Fn(&Constraint) -> bool,
    ) -> Result<Vec<Arc<Constraint>>> {
        let mut found = self.constraints_in(area)?;
        found.retain(|e| keep(e));
        Ok(found)
    }
    /// The [`Document`] of `kind` with `id`.
    fn document(&self, kind: &str, id: &str) -> Result<Option<Arc<Document>>>;
    /// Every [`Document`] of `kind`, by id.
    fn documents(&self, kind: &str) -> Result<Vec<Arc<Document>>>;
    /// The first `limit` [`Document`]s of `kind` whose id sorts after `after` (by the bytes
    /// of the id), in id order: a cursor over a kind without listing all of it.
    fn documents_after(&self, kind: &str, after: &str, limit: usize) -> Result<Vec<Arc<Document>>> {
        let mut found = self.documents(kind)?;
        found.retain(|d| d.id.as_str() > after);
        found.truncate(limit);
        Ok(found)
    }
}

/// One write. Later reads in the same transaction see it.
#[derive(Debug, Clone)]
pub enum Change {
    PutOperationalIntent(Arc<OperationalIntent>),
    DeleteOperationalIntent(EntityId),
    PutConstraint(Arc<Constraint>),
    DeleteConstraint(EntityId),
    PutSubscription(Arc<Subscription>),
    DeleteSubscription(EntityId),
    PutAvailability(UssAvailability),
    AddReport(Report),
    PutDocument(Arc<Document>),
    DeleteDocument { kind: String, id: String },
}

pub trait Tx: ReadTx {
    fn apply(&mut self, change: Change) -> Result<()>;
}

/// Entities that have ended, by kind.
#[derive(Debug, Default, Clone)]
pub struct Expired {
    pub operational_intents: Vec<EntityId>,
    pub constraints: Vec<EntityId>,
    pub subscriptions: Vec<EntityId>,
}

impl Expired {
    pub fn is_empty(&self) -> bool {
        self.operational_intents.is_empty()
            && self.constraints.is_empty()
            && self.subscriptions.is_empty()
    }
}

/// A DSS store: embedded SQLite, or PostgreSQL shared by a pool of instances.
pub trait Store: Send + Sync {
    /// Runs `f` on a consistent view.
    fn read(&self, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()>;
    /// Runs `f` in one atomic, durable transaction: all its changes or none.
    fn write(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()>;
    /// The ids of entities whose end time is before `cutoff` (the purge removes them through
    /// [`Store::write`], so that it obeys the same rules as any write).
    fn expired(&self, cutoff: Timestamp) -> Result<Expired>;
    /// Whether the store can answer now.
    fn health(&self) -> Result<()>;
    /// True when [`Store::read`] never waits on I/O (it answers from memory), so that a caller
    /// may run it on an async thread instead of handing it to a blocking pool.
    fn reads_from_memory(&self) -> bool {
        false
    }
    /// Runs the rules of a write without waiting on I/O, when the backend can (it checks them
    /// against memory): `Some(Ok(None))` when `f` changed nothing, `Some(Ok(Some(ticket)))`
    /// when its changes are queued for commit — durable, and acknowledgeable, only once
    /// [`Store::await_commit`] of that ticket returned `Ok` — and `Some(Err)` when `f` refused.
    /// `None` when the backend cannot, and callers use [`Store::write`] instead. A refused
    /// write thus costs no hand-off to a thread that may block.
    fn stage(
        &self,
        _f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>,
    ) -> Option<Result<Option<Ticket>>> {
        None
    }
    /// Waits until the write of `ticket` is durable (it may commit it), or failed. May block.
    fn await_commit(&self, ticket: Ticket) -> Result<()> {
        let _ = ticket;
        Err(DssError::Internal("this store stages no writes".into()))
    }
    /// A future that completes once the commit of `ticket` has finished (then
    /// [`Store::await_commit`] returns at once with its outcome), for a store that commits in
    /// the background: awaiting it holds no thread. Whoever calls it must then call
    /// [`Store::claim_commits`] and, when that says so, run [`Store::run_commits`] on a thread
    /// that may block. `None` (the default): wait with [`Store::await_commit`] instead.
    fn commit_finished(&self, _ticket: &Ticket) -> Option<CatchUp<'static>> {
        None
    }
    /// Whether the caller became the one to commit the staged writes (nobody was): it must
    /// then run [`Store::run_commits`].
    fn claim_commits(&self) -> bool {
        false
    }
    /// Commits staged writes, batch after batch, until none is left. Blocks.
    fn run_commits(&self) {}
    /// For a store whose in-memory image other instances' writes change (a pool): a future, to
    /// await on an async thread, that completes once the image holds every write acknowledged
    /// before this call, through any instance; the read then runs with
    /// [`Store::read_current`]. `None` (the default) when the store has no such step or cannot
    /// take it here (no async runtime): read with [`Store::read`] then.
    fn catch_up(&self) -> Option<CatchUp<'_>> {
        None
    }
    /// Runs `f` on what the store holds now, without catching up first: for a read after
    /// [`Store::catch_up`].
    fn read_current(&self, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        self.read(f)
    }
    /// Runs `f` like [`Store::read`], over the writes [`Store::stage`]d for a commit too: the
    /// view a key is checked against, for the DSS reads whose answers become keys. A reader of
    /// the committed state alone would present a key lacking the OVNs of the commit in flight
    /// and be refused at once. Seeing staged writes is safe there because a write is
    /// acknowledged only once it and every write staged before it are durable: no write that
    /// rests on this view can be acknowledged while what it saw can still be undone by a crash.
    fn read_staged(&self, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        self.read(f)
    }
}

/// A write queued by [`Store::stage`], not yet durable.
#[derive(Debug)]
#[must_use = "a staged write is acknowledged only after Store::await_commit"]
pub struct Ticket(pub u64);

/// What [`Store::catch_up`] returns.
pub type CatchUp<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// Runs a read closure that returns a value.
pub fn read<T>(store: &dyn Store, f: impl FnMut(&dyn ReadTx) -> Result<T>) -> Result<T> {
    read_by(|g| store.read(g), f)
}

/// Runs a read closure that returns a value with [`Store::read_staged`].
pub fn read_staged<T>(store: &dyn Store, f: impl FnMut(&dyn ReadTx) -> Result<T>) -> Result<T> {
    read_by(|g| store.read_staged(g), f)
}

/// Runs a read closure that returns a value with [`Store::read_current`].
pub fn read_current<T>(store: &dyn Store, f: impl FnMut(&dyn ReadTx) -> Result<T>) -> Result<T> {
    read_by(|g| store.read_current(g), f)
}

fn read_by<T>(
    run: impl FnOnce(&mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()>,
    mut f: impl FnMut(&dyn ReadTx) -> Result<T>,
) -> Result<T> {
    let mut out = None;
    run(&mut |tx| {
        out = Some(f(tx)?);
        Ok(())
    })?;
    out.ok_or_else(|| DssError::Internal("store did not run the read".into()))
}

/// Runs a write closure that returns a value through [`Store::stage`]: `None` when the store
/// cannot stage; otherwise the value and the ticket to await, if `f` changed anything.
pub fn stage<T>(
    store: &dyn Store,
    mut f: impl FnMut(&mut dyn Tx) -> Result<T>,
) -> Option<Result<(T, Option<Ticket>)>> {
    let mut out = None;
    let staged = store.stage(&mut |tx| {
        out = Some(f(tx)?);
        Ok(())
    })?;
    Some(staged.and_then(|ticket| {
        let value = out.ok_or_else(|| DssError::Internal("store did not run the write".into()))?;
        Ok((value, ticket))
    }))
}

/// Runs a write closure that returns a value.
pub fn write<T>(store: &dyn Store, mut f: impl FnMut(&mut dyn Tx) -> Result<T>) -> Result<T> {
    let mut out = None;
    store.write(&mut |tx| {
        out = Some(f(tx)?);
        Ok(())
    })?;
    out.ok_or_else(|| DssError::Internal("store did not run the write".into()))
}
