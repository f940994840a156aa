//! Catching the image up for reads on the async runtime: one statement in flight per instance.
//!
//! A read on an async thread registers for the next *round* (the first one that starts after
//! it registered) and awaits it; then it answers from the image. One task runs the rounds, one
//! after the other, on a connection of its own (`tokio-postgres`: no blocking thread, no
//! hand-off): when a round returns and reads are waiting, the next starts at once and serves
//! all of them. So an instance sends at most one catch-up per round trip, whatever the query
//! rate, and a read waits at most for the round in flight and its own. As in `image.rs`, the
//! round that serves a read started after the read arrived, so the read sees every write
//! acknowledged before, through any instance.
//!
//! A round first reads the head of the log, one indexed row; only when the head is past the
//! image's number does it run the catch-up statement (a second round trip). An image older than
//! the kept tombstones is loaded again on a blocking thread, by [`Image::catch_up`].

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use deconflict_core::store::CatchUp;
use deconflict_core::DssError;
use postgres::NoTls;
use r2d2_postgres::r2d2::ManageConnection;
use tokio::runtime::Handle;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Statement};

use super::conn::{Flavour, Manager};
use super::error::{classify, failed, with_causes, Kind, PgError};
use super::image::{Failure, Image};
use super::rows::{changes_since_statement, head_of, ChangeRows, HEAD_STATEMENT};

/// The rounds of one instance, and the task that runs them.
pub(crate) struct Follower {
    inner: Arc<Inner>,
    task: Mutex<Option<JoinHandle<()>>>,
}

struct Inner {
    image: Arc<Image>,
    /// How to connect: `config` for the task's own connection, `manager` for a blocking one.
    config: tokio_postgres::Config,
    manager: Manager,
    target: String,
    rounds: Mutex<Rounds>,
    wake: Notify,
    done: watch::Sender<Done>,
}

/// Guarded by a mutex that is never held across an await.
#[derive(Default)]
struct Rounds {
    started: u64,
    /// A read registered since the last round started.
    wanted: bool,
}

/// Rounds that ended, for the reads awaiting them.
#[derive(Default)]
struct Done {
    finished: u64,
    /// The last round that succeeded.
    ok: u64,
    /// Why the last round that failed did.
    error: Option<Failure>,
}

/// The task's connection and its prepared statements.
struct Session {
    client: Client,
    head: Statement,
    changes: Statement,
}

impl Follower {
    pub(crate) fn new(
        image: Arc<Image>,
        config: tokio_postgres::Config,
        manager: Manager,
        target: String,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                image,
                config,
                manager,
                target,
                rounds: Mutex::new(Rounds::default()),
                wake: Notify::new(),
                done: watch::Sender::new(Done::default()),
            }),
            task: Mutex::new(None),
        }
    }

    /// Registers a read for the next round and returns what awaits it; `None` outside an
    /// async runtime.
    pub(crate) fn catch_up(&self) -> Option<CatchUp<'static>> {
        let runtime = Handle::try_current().ok()?;
        self.run_on(&runtime);
        let mut done = self.inner.done.subscribe();
        let need = {
            let mut rounds = self.inner.rounds();
            rounds.wanted = true;
            rounds.started + 1
        };
        self.inner.wake.notify_one();
        Some(Box::pin(async move {
            let d = done
                .wait_for(|d| d.finished >= need)
                .await
                .map_err(|_| DssError::Internal("the catch-up task stopped".into()))?;
            if d.ok >= need {
                Ok(())
            } else {
                Err(Failure::error(d.error.as_ref()))
            }
        }))
    }

    /// Rounds run since opening.
    pub(crate) fn rounds(&self) -> u64 {
        self.inner.done.borrow().finished
    }

    /// Starts the task on `runtime` unless it runs (a runtime that shut down took it along).
    fn run_on(&self, runtime: &Handle) {
        let mut task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if task.as_ref().is_none_or(JoinHandle::is_finished) {
            *task = Some(runtime.spawn(Arc::clone(&self.inner).drive()));
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Some(task) = self.task.get_mut().ok().and_then(Option::take) {
            task.abort();
        }
    }
}

/// Ends a round for its readers however the round ends (a panic or the runtime's shutdown
/// included: readers are never left waiting).
struct Ending<'a> {
    inner: &'a Inner,
    round: u64,
    result: Option<Result<(), DssError>>,
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        let result = self
            .result
            .take()
            .unwrap_or_else(|| Err(DssError::Internal("the catch-up task stopped".into())));
        self.inner.done.send_modify(|d| {
            d.finished = self.round;
            match &result {
                Ok(()) => d.ok = self.round,
                Err(e) => d.error = Some(Failure::of(e)),
            }
        });
    }
}

impl Inner {
    fn rounds(&self) -> MutexGuard<'_, Rounds> {
        // Two counters, consistent at every point: a panic elsewhere cannot spoil them.
        self.rounds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn drive(self: Arc<Self>) {
        let mut session = None;
        loop {
            let round = loop {
                {
                    let mut rounds = self.rounds();
                    if rounds.wanted {
                        rounds.wanted = false;
                        rounds.started += 1;
                        break rounds.started;
                    }
                }
                self.wake.notified().await;
            };
            let mut ending = Ending {
                inner: &self,
                round,
                result: None,
            };
            ending.result = Some(self.round(&mut session).await);
        }
    }

    /// One round. A kept connection that the server closed shows on its first statement: one
    /// more try, on a fresh one.
    async fn round(&self, session: &mut Option<Session>) -> Result<(), DssError> {
        let mut last = None;
        for _ in 0..2 {
            if session.as_ref().is_none_or(|s| s.client.is_closed()) {
                *session = None;
                *session = Some(self.connect().await?);
            }
            let Some(s) = session.as_ref() else {
                continue;
            };
            match self.once(s).await {
                Ok(()) => return Ok(()),
                Err(PgError::Sql(e)) if classify(&e) != Kind::Internal => {
                    *session = None;
                    last = Some(e);
                }
                Err(PgError::Sql(e)) => return Err(failed(&self.target, "read", &e)),
                Err(other) => return Err(other.into()),
            }
        }
        Err(match last {
            Some(e) => failed(&self.target, "read", &e),
            None => DssError::Internal("the catch-up did not run".into()),
        })
    }

    async fn connect(&self) -> Result<Session, PgError> {
        let unreachable = |e: tokio_postgres::Error| PgError::Unreachable {
            target: self.target.clone(),
            cause: with_causes(&e),
        };
        let (client, connection) = self.config.connect(NoTls).await.map_err(unreachable)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "the catch-up connection ended");
            }
        });
        let version: String = client
            .query_one("SELECT version()", &[])
            .await?
            .try_get(0)?;
        if let Some(settings) = Flavour::of(&version).settings() {
            client.batch_execute(settings).await?;
        }
        let head = client.prepare(HEAD_STATEMENT).await?;
        let changes = client.prepare(changes_since_statement()).await?;
        Ok(Session {
            client,
            head,
            changes,
        })
    }

    async fn once(&self, s: &Session) -> Result<(), PgError> {
        let at = self
            .image
            .seq()
            .map_err(|e| PgError::Corrupt(e.to_string()))?;
        let (head, pruned) = head_of(&s.client.query(&s.head, &[]).await?)?;
        if head <= at {
            return Ok(());
        }
        if pruned <= at {
            let mut read = ChangeRows::default();
            for r in s.client.query(&s.changes, &[&at]).await? {
                read.push(&r)?;
            }
            let read = read.finish()?;
            if read.pruned <= at {
                return self.image.install(read, false, None);
            }
        }
        // Older than the kept tombstones: the whole image again, off the async threads.
        let (image, manager) = (Arc::clone(&self.image), self.manager.clone());
        tokio::task::spawn_blocking(move || {
            let mut conn = manager.connect()?;
            image.catch_up(&mut conn, None)
        })
        .await
        .map_err(|e| PgError::Corrupt(format!("loading the image again failed: {e}")))?
    }
}
