//! What every handler shares: the store, the token verifier, the limits and the clock.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deconflict_auth::Verifier;
use deconflict_core::limits::Limits;
use deconflict_core::store::{self, ReadTx, Store, Tx};
use deconflict_core::{DssError, Result};

use deconflict_humanitarian::conflict::{self, Written};

use crate::error::ApiError;
use crate::events::Events;
use crate::layer::Layer;
use crate::rate::PartyRate;
use crate::recorder::Recorder;
use crate::tlog::ServedLog;

/// The time source. Production uses [`Utc::now`]; tests may move time forward.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The state of the router. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub verifier: Arc<Verifier>,
    pub limits: Arc<Limits>,
    pub clock: Clock,
    /// How long a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// Parties and where this server publishes the humanitarian layer.
    pub layer: Arc<Layer>,
    /// The tamper-evident log, when this server keeps one (`serve` always does).
    pub log: Option<Arc<ServedLog>>,
    /// Wakes the readers of notifications after a write made some.
    pub events: Arc<Events>,
    /// Puts events into the log, with the store write that makes them ([`Recorder`]);
    /// disabled when there is no log.
    pub recorder: Recorder,
    /// How many requests a second each party may send; no bound when `None`.
    pub party_rate: Option<Arc<PartyRate>>,
}

/// The default of [`AppState::request_timeout`].
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

impl AppState {
    /// A state with the system clock.
    pub fn new(store: Arc<dyn Store>, verifier: Arc<Verifier>, limits: Limits) -> Self {
        Self {
            store,
            verifier,
            limits: Arc::new(limits),
            clock: Arc::new(Utc::now),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            layer: Arc::new(Layer::without_parties("http://localhost:8082".into())),
            log: None,
            events: Arc::new(Events::default()),
            recorder: Recorder::disabled(),
            party_rate: None,
        }
    }

    /// Adds the tamper-evident log and its [`Recorder`]; `exclusive`: this process is the
    /// store's only writer (SQLite, not a pool).
    #[must_use]
    pub fn with_log(mut self, log: ServedLog, exclusive: bool) -> Self {
        let log = Arc::new(log);
        self.recorder = Recorder::new(Arc::clone(&self.store), Arc::clone(&log), exclusive);
        self.log = Some(log);
        self
    }

    /// Replaces the humanitarian layer (parties, base URL).
    #[must_use]
    pub fn with_layer(mut self, layer: Layer) -> Self {
        self.layer = Arc::new(layer);
        self
    }

    /// Replaces the clock (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Runs `f` on a consistent view of the store. A store that answers from memory is read
    /// right here (handing a few microseconds of work to another thread would cost more than
    /// the work), after awaiting its catch-up with the other instances of a pool, if it has
    /// one; any other is read off the async threads, since it may wait on I/O.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&dyn ReadTx) -> Result<T> + Send + 'static,
    {
        self.read_with(store::read, f).await
    }

    /// Runs `f` like [`AppState::read`], over the writes staged for a commit too
    /// ([`deconflict_core::store::Store::read_staged`]): for the DSS reads whose answers
    /// become keys.
    pub async fn read_for_key<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&dyn ReadTx) -> Result<T> + Send + 'static,
    {
        self.read_with(store::read_staged, f).await
    }

    async fn read_with<T, F>(&self, how: ReadBy<T, F>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&dyn ReadTx) -> Result<T> + Send + 'static,
    {
        if let Some(caught_up) = self.store.catch_up() {
            caught_up.await?;
            return store::read_current(&*self.store, f).map_err(ApiError::from);
        }
        if self.store.reads_from_memory() {
            return how(&*self.store, f).map_err(ApiError::from);
        }
        let store = Arc::clone(&self.store);
        blocking(move || how(&*store, f)).await
    }

    /// The store's id salt for sites and movements ([`Layer::id_salt`]).
    pub async fn id_salt(&self) -> Result<String, ApiError> {
        let (layer, store) = (Arc::clone(&self.layer), Arc::clone(&self.store));
        blocking(move || layer.id_salt(&*store)).await
    }

    /// Runs `f` in one atomic, durable transaction. The closure may run more than once, so it
    /// only touches the transaction (and records its events with [`Recorder::record`]). A store
    /// that checks writes in memory runs the rules right here, so that a refusal (a 409 for a
    /// stale key, most writes under contention) is answered without a hand-off; the commit,
    /// which fsyncs, runs on one thread of the blocking pool for as long as writes keep coming
    /// ([`Store::run_commits`]), the others await it without a thread, and nothing is
    /// acknowledged before it is durable.
    ///
    /// [`Store::run_commits`]: deconflict_core::store::Store::run_commits Any other store's whole transaction runs there. Once it committed,
    /// the recorder forwards what it recorded to the log.
    pub async fn write<T, F>(&self, mut f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&mut dyn Tx) -> Result<T> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        let out = match store::stage(&*self.store, &mut f) {
            None => blocking(move || store::write(&*store, f)).await,
            Some(staged) => {
                let (value, ticket) = staged?;
                if let Some(ticket) = ticket {
                    match store.commit_finished(&ticket) {
                        Some(finished) => {
                            // Claimed and spawned before this future can be dropped, so a
                            // staged write always has a thread committing it; the others
                            // wait holding no thread.
                            if store.claim_commits() {
                                let committer = Arc::clone(&store);
                                tokio::task::spawn_blocking(move || committer.run_commits());
                            }
                            finished.await?;
                            store.await_commit(ticket)?;
                        }
                        None => blocking(move || store.await_commit(ticket)).await?,
                    }
                }
                Ok(value)
            }
        };
        if out.is_ok() {
            self.recorder.wake();
        }
        out
    }
}

impl AppState {
    /// Runs `f` like [`AppState::write`]; then, in the same transaction, finds the conflicts of
    /// each extent `f` says it wrote with the other parties' extents, records them and
    /// notifies both sides ([`conflict::on_write`]), and puts each conflict and notification
    /// into the log ([`crate::conflict_log`]). Readers of notifications are woken after the
    /// commit; nothing waits for them.
    pub async fn write_extents<T, F>(&self, now: DateTime<Utc>, mut f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnMut(&mut dyn Tx) -> Result<(T, Vec<Written>)> + Send + 'static,
    {
        let parties = self.layer.registry()?;
        let rec = self.recorder.clone();
        let (out, made) = self
            .write(move |tx| {
                let (out, written) = f(tx)?;
                let mut made = 0;
                for w in written {
                    let found = conflict::on_write(tx, w, &parties, now)?;
                    crate::conflict_log::record(&rec, tx, &found)?;
                    made += found.len();
                }
                Ok((out, made))
            })
            .await?;
        if made > 0 {
            self.events.notified();
        }
        Ok(out)
    }
}

/// One of the store's ways of running a read closure ([`store::read`], [`store::read_staged`]).
type ReadBy<T, F> = fn(&dyn deconflict_core::store::Store, F) -> Result<T>;

/// Runs a synchronous store call on the blocking pool. A panic there becomes a 500.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => Err(ApiError::from(DssError::Internal(format!(
            "the store task failed: {e}"
        )))),
    }
}
