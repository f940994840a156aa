//! The PostgreSQL backend, for a pool of `deconflict serve` instances sharing one database.
//! It keeps to SQL that CockroachDB and YugabyteDB accept too.
//!
//! Unlike [`SqliteStore`](crate::SqliteStore), nothing is answered from memory: another
//! instance may have written since. Every read and write runs in a database transaction; a
//! write runs its rules at SERIALIZABLE against a [`ReadTx`] backed by SQL (with the changes
//! of the transaction so far laid over it), then the changes are written and committed. When
//! the database reports a serialization failure (SQLSTATE 40001) or a deadlock (40P01), the
//! whole write, rules included, runs again after a jittered back-off, a bounded number of
//! times; then the caller gets 409 "despite repeated attempts". Connection failures are 503.
//!
//! **Group commit.** One instance runs one write transaction at a time (so only writes of
//! different instances can conflict), and the writes that arrive while one is running share
//! the next one, as on SQLite: each writer runs its own rules, in turn, in the open
//! transaction, seeing the committed state plus the changes of the writes before it in the
//! transaction; a writer whose rules refuse adds nothing (its error is its own), and the last
//! writer in (none is waiting to join, or the batch is full) writes every change with a few
//! array statements and commits, for all. If the transaction fails to serialize, every write in
//! it runs again, rules included, in a later transaction; if it fails otherwise, each of them
//! gets the error. Nothing is acknowledged before the commit.
//!
//! Reads run on REPEATABLE READ, read-only snapshots, in parallel. Every statement has a fixed
//! text and is prepared once per connection (`conn.rs`); area look-ups pass their grid cells as
//! array parameters (`area.rs`).

mod area;
mod conn;
mod error;
mod rows;
mod schema;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use deconflict_core::ids::EntityId;
use deconflict_core::memstate::{Layered, Overlay, Pending};
use deconflict_core::model::Timestamp;
use deconflict_core::store::{Expired, ReadTx, Store, Tx};
use deconflict_core::{DssError, Result};
use postgres::config::Host;
use postgres::{Config, NoTls};
use r2d2_postgres::r2d2::{Pool, PooledConnection};

pub use error::PgError;
pub use schema::SCHEMA_VERSION;

use conn::{Conn, Flavour, Manager};
use error::{classify, is_retryable, to_dss};
use rows::{persist, SqlView};

/// Settings of a [`PostgresStore`].
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Connections this instance holds at most.
    pub max_connections: u32,
    /// How long to wait for a new connection, or for a free one from the pool, before the
    /// request fails with 503.
    pub connect_timeout: Duration,
    /// Runs of a write (the first included) before it fails with 409 on repeated
    /// serialization failures.
    pub max_attempts: u32,
    /// Writes that share one transaction at most (group commit).
    pub max_batch: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            max_attempts: 10,
            max_batch: 64,
        }
    }
}

/// The DSS store on PostgreSQL (or CockroachDB, YugabyteDB). Cheap to share: it holds a pool.
pub struct PostgresStore {
    /// Always `Some` until dropped; see the `Drop` impl.
    pool: Option<Pool<Manager>>,
    /// Where the database is, without credentials, for error messages.
    target: String,
    /// Why the last attempt to connect failed, if it did (the pool's own error may not say).
    connect_error: Arc<Mutex<Option<String>>>,
    max_connections: u32,
    max_attempts: u32,
    max_batch: usize,
    retries: AtomicU64,
    /// Write transactions committed.
    commits: AtomicU64,
    flavour: Flavour,
    /// The write transaction being filled, and the right to run rules in it.
    writer: Mutex<Writer>,
    /// Writers waiting for `writer`: the last writer in commits.
    queued: AtomicUsize,
    /// How each finished write transaction ended, by sequence number.
    outcomes: Mutex<BTreeMap<u64, Outcome>>,
    decided: Condvar,
}

struct Writer {
    open: Option<Batch>,
    next_seq: u64,
    /// Transactions of this instance that failed to serialize in a row.
    failed_in_a_row: u32,
}

/// A write transaction that writers join.
struct Batch {
    seq: u64,
    conn: PooledConnection<Manager>,
    /// The changes of the writes that joined, in order.
    pending: Pending,
    /// Stored extents read in the transaction (see [`SqlView::take_seen`]).
    seen: HashMap<(i16, EntityId), Vec<u8>>,
    members: usize,
    /// Still to be committed or rolled back.
    open: bool,
}

impl Drop for Batch {
    fn drop(&mut self) {
        if self.open {
            // Hand the connection back with no transaction; a broken one is discarded anyway.
            let _ = self.conn.batch("ROLLBACK");
        }
    }
}

/// How a write transaction ended, for every write in it.
#[derive(Debug, Clone)]
enum Outcome {
    Committed,
    /// Failed to serialize: the writes run again.
    Retry,
    Unavailable(String),
    Internal(String),
}

/// What one run of a write came to.
enum Run {
    Done(Result<()>),
    /// The transaction failed to serialize: run the write again.
    Retry(String),
    /// The connection was found closed before anything was done on it: take another.
    Stale,
}

fn parse_url(url: &str, connect_timeout: Duration) -> Result<Config, PgError> {
    let mut config: Config = url.parse().map_err(|e: postgres::Error| {
        PgError::Url(format!(
            "{e} (expected postgres://user:password@host:port/database)"
        ))
    })?;
    config.connect_timeout(connect_timeout);
    if config.get_application_name().is_none() {
        config.application_name("deconflict");
    }
    Ok(config)
}

/// `host:port/database` for messages: never the password.
fn describe(config: &Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match h {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    format!(
        "{}/{}",
        hosts.join(","),
        config.get_dbname().unwrap_or("(default database)")
    )
}

/// Applies the schema migrations this build knows to the database at `url`; returns the
/// versions applied (empty when it was current). [`PostgresStore::open`] does the same.
pub fn migrate(url: &str) -> Result<Vec<i64>, PgError> {
    let config = parse_url(url, PostgresOptions::default().connect_timeout)?;
    let mut client = config.connect(NoTls).map_err(|e| PgError::Unreachable {
        target: describe(&config),
        cause: error::with_causes(&e),
    })?;
    schema::run(&mut client)
}

/// On PostgreSQL, after this many write transactions of the instance in a row failed to
/// serialize, the next runs alone: every write transaction first takes a lock on the empty
/// `write_gate` table, shared normally, exclusive for such a one. The lock is taken before the
/// transaction's first query, so its snapshot is taken once every write that was running has
/// finished and none can start: it cannot fail to serialize again. Without this, writes that
/// keep losing to others that keep arriving (as on a small table, where every write touches
/// the same index pages) could exhaust their attempts.
const GATE_AFTER_FAILURES: u32 = 2;
const BEGIN_SHARED: &str =
    "BEGIN ISOLATION LEVEL SERIALIZABLE; LOCK TABLE write_gate IN ROW SHARE MODE";
const BEGIN_ALONE: &str =
    "BEGIN ISOLATION LEVEL SERIALIZABLE; LOCK TABLE write_gate IN EXCLUSIVE MODE";
const BEGIN_OTHER: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";
const BEGIN_READ: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

/// Sequence numbers of finished transactions kept for writers still to look theirs up.
const OUTCOMES_KEPT: usize = 4096;

/// Full-jitter exponential back-off: up to 2 ms before the second run, doubling to 128 ms.
fn backoff(attempt: u32) -> Duration {
    let cap_us = 1_000u64 << attempt.clamp(1, 7);
    Duration::from_micros(rand::random_range(cap_us / 4..=cap_us))
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`) and
    /// brings its schema up to date.
    pub fn open(url: &str) -> Result<Self, PgError> {
        Self::open_with(url, PostgresOptions::default())
    }

    pub fn open_with(url: &str, options: PostgresOptions) -> Result<Self, PgError> {
        let config = parse_url(url, options.connect_timeout)?;
        let target = describe(&config);
        let connect_error = Arc::new(Mutex::new(None));
        let max_connections = options.max_connections.max(1);
        let pool = Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout)
            // A closed connection shows on its first statement, which is then run again on
            // another (see `with_retry`): no test query per request.
            .test_on_check_out(false)
            .build_unchecked(Manager {
                config,
                last_error: connect_error.clone(),
            });
        let mut store = Self {
            pool: Some(pool),
            target,
            connect_error,
            max_connections,
            max_attempts: options.max_attempts.max(1),
            max_batch: options.max_batch.max(1),
            retries: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            flavour: Flavour::Other,
            writer: Mutex::new(Writer {
                open: None,
                next_seq: 1,
                failed_in_a_row: 0,
            }),
            queued: AtomicUsize::new(0),
            outcomes: Mutex::new(BTreeMap::new()),
            decided: Condvar::new(),
        };
        let mut conn = store.conn()?;
        schema::run(&mut conn.client)?;
        store.flavour = conn.flavour;
        drop(conn);
        Ok(store)
    }

    /// Where the store is (`host:port/database`).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// How many times writes were run again after a serialization failure, since opening.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// How many write transactions this instance committed, since opening: fewer than the
    /// writes when writes shared transactions.
    pub fn transactions(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Entities held, by kind (operational intents, constraints, subscriptions).
    pub fn counts(&self) -> Result<(usize, usize, usize)> {
        let mut conn = self.conn()?;
        let view = SqlView::new(&mut conn);
        let counts = view.counts();
        match view.take_failure() {
            Some(e) => Err(to_dss(&e)),
            None => counts,
        }
    }

    fn conn(&self) -> Result<PooledConnection<Manager>, PgError> {
        let pool = self.pool.as_ref().ok_or_else(|| PgError::Unreachable {
            target: self.target.clone(),
            cause: "the store is closed".into(),
        })?;
        pool.get().map_err(|e| {
            // The pool hands the cause of a failed connection attempt to one waiter only;
            // every caller gets it from here.
            let last = self.connect_error.lock().ok().and_then(|l| l.clone());
            let cause = match last {
                Some(cause) => cause,
                None if e.to_string().contains(": ") => e.to_string(),
                None => format!(
                    "no free connection within the connect timeout (all {} in use)",
                    self.max_connections
                ),
            };
            PgError::Unreachable {
                target: self.target.clone(),
                cause,
            }
        })
    }

    /// The error for a failed statement, with the database named when it is unreachable.
    fn failed(&self, what: &str, e: &postgres::Error) -> DssError {
        tracing::error!(error = %e, target = %self.target, "{what} failed");
        match to_dss(e) {
            DssError::Unavailable(m) => {
                DssError::Unavailable(format!("{m} (database {})", self.target))
            }
            other => other,
        }
    }

    /// A read outside any transaction, for readers that need one statement only (a query by
    /// area or id): `None` when the reader needs more, and runs again in a transaction.
    fn read_single(
        &self,
        conn: &mut Conn,
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>,
    ) -> Option<Run> {
        let (result, failure, more) = {
            let view = SqlView::single_statement(conn);
            let result = f(&view);
            (result, view.take_failure(), view.needs_transaction())
        };
        match failure {
            None if more => None,
            None => Some(Run::Done(result)),
            // Nothing ran before it on this connection, so a broken one shows here.
            Some(e) if classify(&e) == error::Kind::Unavailable => Some(Run::Stale),
            Some(e) if is_retryable(&e) => Some(Run::Retry(e.to_string())),
            Some(e) => Some(Run::Done(Err(self.failed("read", &e)))),
        }
    }

    fn read_once(&self, conn: &mut Conn, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Run {
        if let Err(e) = conn.batch(BEGIN_READ) {
            return if classify(&e) == error::Kind::Unavailable {
                Run::Stale
            } else {
                Run::Done(Err(self.failed("read", &e)))
            };
        }
        let (result, failure) = {
            let view = SqlView::new(conn);
            let result = f(&view);
            (result, view.take_failure())
        };
        let end = match failure {
            Some(e) => Err(e),
            None => conn.batch("COMMIT"),
        };
        match end {
            Ok(()) => Run::Done(result),
            Err(e) => {
                // A failed statement decides, whatever the read made of it.
                let _ = conn.batch("ROLLBACK");
                if is_retryable(&e) {
                    Run::Retry(e.to_string())
                } else {
                    Run::Done(Err(self.failed("read", &e)))
                }
            }
        }
    }

    /// Runs `once` until it is done or has failed to serialize `max_attempts` times. A
    /// connection found closed before anything ran on it is replaced at once, a bounded number
    /// of times.
    fn with_retry(&self, what: &str, mut once: impl FnMut(u32) -> Run) -> Result<()> {
        let mut attempt = 0;
        let mut stale = 0;
        loop {
            attempt += 1;
            match once(attempt) {
                Run::Done(r) => return r,
                Run::Stale => {
                    stale += 1;
                    attempt -= 1;
                    if stale > self.max_connections + 1 {
                        return Err(DssError::Unavailable(format!(
                            "PostgreSQL at {}: every connection was closed",
                            self.target
                        )));
                    }
                }
                Run::Retry(e) => {
                    if attempt >= self.max_attempts {
                        tracing::warn!(error = %e, attempts = attempt, "{what} gave up on serialization failures");
                        return Err(DssError::Conflict(format!(
                            "Despite repeated attempts ({attempt}), the DSS was unable to \
                             complete the {what} because of other simultaneous changes; \
                             try again"
                        )));
                    }
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(error = %e, attempt, "{what} conflicted; running it again");
                    std::thread::sleep(backoff(attempt));
                }
            }
        }
    }

    /// Records how transaction `seq` ended and wakes the writes waiting on it.
    fn decide(&self, seq: u64, outcome: Outcome) {
        if let Ok(mut o) = self.outcomes.lock() {
            o.insert(seq, outcome);
            while o.len() > OUTCOMES_KEPT {
                o.pop_first();
            }
        }
        self.decided.notify_all();
    }

    fn outcome_run(&self, what: &str, outcome: &Outcome) -> Run {
        match outcome {
            Outcome::Committed => Run::Done(Ok(())),
            Outcome::Retry => Run::Retry(format!("the {what} transaction failed to serialize")),
            Outcome::Unavailable(m) => Run::Done(Err(DssError::Unavailable(m.clone()))),
            Outcome::Internal(m) => Run::Done(Err(DssError::Internal(m.clone()))),
        }
    }

    /// Waits until transaction `seq` has ended.
    fn await_outcome(&self, seq: u64) -> Run {
        let Ok(mut o) = self.outcomes.lock() else {
            return Run::Done(Err(DssError::Internal(
                "a storage lock was poisoned".into(),
            )));
        };
        loop {
            if let Some(outcome) = o.get(&seq) {
                return self.outcome_run("update", outcome);
            }
            if o.first_key_value().is_some_and(|(first, _)| *first > seq) {
                return Run::Done(Err(DssError::Internal(format!(
                    "the outcome of write transaction {seq} was lost"
                ))));
            }
            if self.writer.is_poisoned() {
                return Run::Done(Err(DssError::Internal(
                    "a write panicked in the transaction of this one".into(),
                )));
            }
            o = match self.decided.wait_timeout(o, Duration::from_millis(200)) {
                Ok((o, _)) => o,
                Err(_) => {
                    return Run::Done(Err(DssError::Internal(
                        "a storage lock was poisoned".into(),
                    )))
                }
            };
        }
    }

    /// Writes the changes of `batch` and commits; how that ended.
    fn commit(&self, batch: &mut Batch) -> Outcome {
        let conn = &mut *batch.conn;
        let result = if batch.pending.is_empty() {
            conn.batch("COMMIT")
        } else {
            persist(conn, &mut batch.seen, batch.pending.changes())
                .and_then(|()| conn.batch("COMMIT"))
        };
        match result {
            Ok(()) => {
                batch.open = false;
                self.commits.fetch_add(1, Ordering::Relaxed);
                Outcome::Committed
            }
            Err(e) if is_retryable(&e) => Outcome::Retry,
            Err(e) => match self.failed("update", &e) {
                DssError::Unavailable(m) => Outcome::Unavailable(m),
                other => Outcome::Internal(other.to_string()),
            },
        }
    }

    /// One run of a write: join the open transaction (or open one), run the rules in it, and
    /// commit it when no other write is waiting to join.
    fn write_once(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Run {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let w = self.writer.lock();
        self.queued.fetch_sub(1, Ordering::SeqCst);
        let Ok(mut w) = w else {
            return Run::Done(Err(DssError::Internal(
                "the write lock was poisoned by a panic".into(),
            )));
        };
        if w.open.is_none() {
            let mut conn = match self.conn() {
                Ok(c) => c,
                Err(e) => return Run::Done(Err(e.into())),
            };
            let begin = match self.flavour {
                Flavour::Other => BEGIN_OTHER,
                Flavour::PostgreSql if w.failed_in_a_row >= GATE_AFTER_FAILURES => BEGIN_ALONE,
                Flavour::PostgreSql => BEGIN_SHARED,
            };
            if let Err(e) = conn.batch(begin) {
                let _ = conn.batch("ROLLBACK");
                return match classify(&e) {
                    error::Kind::Unavailable => Run::Stale,
                    error::Kind::Retry => Run::Retry(e.to_string()),
                    error::Kind::Internal => Run::Done(Err(self.failed("update", &e))),
                };
            }
            let seq = w.next_seq;
            w.next_seq += 1;
            w.open = Some(Batch {
                seq,
                conn,
                pending: Pending::default(),
                seen: HashMap::new(),
                members: 0,
                open: true,
            });
        }
        let Some(batch) = w.open.as_mut() else {
            return Run::Done(Err(DssError::Internal("no open write transaction".into())));
        };
        let seq = batch.seq;
        let (result, failure, mine, seen) = {
            let view = SqlView::for_write(&mut batch.conn);
            let below = Layered {
                base: &view,
                top: &batch.pending,
            };
            let mut overlay = Overlay::new(&below);
            let result = f(&mut overlay);
            let mine = overlay.into_pending();
            (result, view.take_failure(), mine, view.take_seen())
        };
        batch.seen.extend(seen);
        if let Some(e) = failure {
            // The transaction is aborted, for every write in it: a failed statement decides,
            // whatever the rules made of it.
            let retry = is_retryable(&e);
            if retry {
                w.failed_in_a_row += 1;
            }
            w.open = None;
            drop(w);
            let outcome = if retry {
                Outcome::Retry
            } else {
                match self.failed("update", &e) {
                    DssError::Unavailable(m) => Outcome::Unavailable(m),
                    other => Outcome::Internal(other.to_string()),
                }
            };
            self.decide(seq, outcome.clone());
            return self.outcome_run("update", &outcome);
        }
        let refused = match result {
            Ok(()) => {
                batch.pending.merge(mine);
                batch.members += 1;
                None
            }
            // Refused by the rules: nothing of this write stays in the transaction.
            Err(e) => Some(e),
        };
        let waiting = self.queued.load(Ordering::SeqCst) > 0;
        if waiting && batch.members < self.max_batch {
            // A later writer joins and commits.
            drop(w);
            return match refused {
                Some(e) => Run::Done(Err(e)),
                None => self.await_outcome(seq),
            };
        }
        let Some(mut batch) = w.open.take() else {
            return Run::Done(Err(DssError::Internal("no open write transaction".into())));
        };
        if batch.members == 0 {
            // Nothing to commit: the batch is rolled back as it is dropped.
            drop(w);
            drop(batch);
            return Run::Done(Err(refused.unwrap_or_else(|| {
                DssError::Internal("an empty write transaction".into())
            })));
        }
        let outcome = self.commit(&mut batch);
        match outcome {
            Outcome::Committed => w.failed_in_a_row = 0,
            Outcome::Retry => w.failed_in_a_row += 1,
            _ => {}
        }
        drop(w);
        drop(batch);
        self.decide(seq, outcome.clone());
        match refused {
            Some(e) => Run::Done(Err(e)),
            None => self.outcome_run("update", &outcome),
        }
    }
}

/// Closing a connection of the blocking client runs a small runtime of its own, which panics on
/// a thread that drives async tasks (as when a server drops its state at shutdown). The pool is
/// therefore dropped, and its connections closed, on a thread of its own.
impl Drop for PostgresStore {
    fn drop(&mut self) {
        let open = self.writer.get_mut().ok().and_then(|w| w.open.take());
        let pool = self.pool.take();
        if open.is_some() || pool.is_some() {
            let closed = std::thread::Builder::new()
                .name("deconflict-pg-close".into())
                .spawn(move || {
                    drop(open);
                    drop(pool);
                })
                .map(std::thread::JoinHandle::join);
            if !matches!(closed, Ok(Ok(()))) {
                tracing::warn!("closing the PostgreSQL connections failed");
            }
        }
    }
}

impl Store for PostgresStore {
    fn read(&self, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        self.with_retry("read", |_| {
            let mut conn = match self.conn() {
                Ok(c) => c,
                Err(e) => return Run::Done(Err(e.into())),
            };
            match self.read_single(&mut conn, f) {
                Some(run) => run,
                None => self.read_once(&mut conn, f),
            }
        })
    }

    fn write(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        self.with_retry("update", |_| self.write_once(f))
    }

    fn expired(&self, cutoff: Timestamp) -> Result<Expired> {
        let mut conn = self.conn()?;
        let view = SqlView::new(&mut conn);
        let expired = view.expired(cutoff);
        match view.take_failure() {
            Some(e) => Err(to_dss(&e)),
            None => expired,
        }
    }

    fn health(&self) -> Result<()> {
        // A pooled connection may have been closed by the server since its last use: one more
        // try on a fresh one before saying the database is down.
        let mut last = None;
        for _ in 0..2 {
            let mut conn = self.conn()?;
            match conn.client.simple_query("SELECT 1") {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(DssError::Unavailable(format!(
            "PostgreSQL at {}: {}",
            self.target,
            last.map(|e| e.to_string()).unwrap_or_default()
        )))
    }
}
