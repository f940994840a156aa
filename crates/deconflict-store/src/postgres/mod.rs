//! The PostgreSQL backend, for a pool of `deconflict serve` instances sharing one database.
//! It keeps to SQL that CockroachDB and YugabyteDB accept too.
//!
//! Every instance answers reads from an in-memory image of the database, as
//! [`SqliteStore`](crate::SqliteStore) does, and keeps it coherent with the writes of every
//! instance through numbered transactions (`image.rs`): before it answers, a read has the
//! image caught up by one statement that started after the read arrived, so a write
//! acknowledged through any instance is seen at once.
//!
//! **Writes.** A write transaction runs at SERIALIZABLE. It first takes the next transaction
//! number by updating the one row of `log_head`, which it keeps locked until it commits: write
//! transactions of all instances therefore run one after the other, in number order (on
//! PostgreSQL the table lock is taken before the transaction's snapshot, so that a writer that
//! waited sees what the one before it committed, and none fails to serialize on the row). It
//! then catches the image up to the number before its own, and the rules run against the image
//! with the changes of the transaction so far laid over it: the keys are checked against
//! everything committed, inside the transaction that writes. The changes are written under the
//! transaction's number, it commits, and they are applied to the image. If a statement fails
//! to serialize (SQLSTATE 40001, 40P01: a writer that does not take part in the numbering, or
//! CockroachDB's own conflicts), the whole write, rules included, runs again after a jittered
//! back-off, a bounded number of times; then the caller gets 409 "despite repeated attempts".
//! Connection failures are 503.
//!
//! **Group commit.** One instance runs one write transaction at a time, and the writes that
//! arrive while one is running (or waiting for the lock) share the next one, as on SQLite: each
//! writer runs its own rules, in turn, in the open transaction, seeing the committed state plus
//! the changes of the writes before it in the transaction; a writer whose rules refuse adds
//! nothing (its error is its own), and the last writer in (none is waiting to join, or the
//! batch is full) writes every change with a few array statements and commits, for all.
//! Nothing is acknowledged before the commit.
//!
//! Every statement has a fixed text and is prepared once per connection (`conn.rs`).

mod conn;
mod error;
mod follow;
mod image;
mod rows;
mod schema;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use deconflict_core::memstate::{Layered, Overlay, Pending};
use deconflict_core::model::Timestamp;
use deconflict_core::store::{CatchUp, Expired, ReadTx, Store, Tx};
use deconflict_core::{DssError, Result};
use postgres::config::Host;
use postgres::{NoTls, SimpleQueryMessage};
use r2d2_postgres::r2d2::{Pool, PooledConnection};
use tokio_postgres::Config;

pub use error::PgError;
pub use schema::SCHEMA_VERSION;

use conn::{Conn, Flavour, Manager};
use error::{classify, is_retryable};
use follow::Follower;
use image::Image;
use rows::{persist, prune};

/// Settings of a [`PostgresStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// What this instance answers from.
    image: Arc<Image>,
    /// Catches the image up for reads on the async runtime.
    follower: Follower,
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
}

/// A write transaction that writers join.
struct Batch {
    /// This instance's count of its transactions, by which writers find their outcome.
    seq: u64,
    /// The transaction's number in the database's order (`log_head`).
    number: i64,
    conn: PooledConnection<Manager>,
    /// The changes of the writes that joined, in order.
    pending: Pending,
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
    let mut client = postgres::Config::from(config.clone())
        .connect(NoTls)
        .map_err(|e| PgError::Unreachable {
            target: describe(&config),
            cause: error::with_causes(&e),
        })?;
    schema::run(&mut client)
}

/// How a write transaction starts: it takes the next number, locking `log_head` until it
/// commits. On PostgreSQL the table lock comes first: `LOCK TABLE` takes no snapshot, so the
/// snapshot is taken once the writer before has committed (an `UPDATE` that waited would
/// otherwise fail to serialize on the row it waited for). EXCLUSIVE mode lets plain reads of
/// the table through.
const BEGIN_POSTGRES: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE; \
     LOCK TABLE log_head IN EXCLUSIVE MODE; \
     UPDATE log_head SET seq = seq + 1 WHERE id = 1 RETURNING seq";
const BEGIN_OTHER: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE; \
     UPDATE log_head SET seq = seq + 1 WHERE id = 1 RETURNING seq";

/// Tombstones are pruned by one transaction in this many.
const PRUNE_EVERY: i64 = 1024;

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
        let manager = Manager {
            config: postgres::Config::from(config.clone()),
            last_error: connect_error.clone(),
        };
        let max_connections = options.max_connections.max(1);
        let pool = Pool::builder()
            .max_size(max_connections)
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout)
            // A closed connection shows on its first statement, which is then run again on
            // another (see `with_retry`): no test query per request.
            .test_on_check_out(false)
            .build_unchecked(manager.clone());
        let image = Arc::new(Image::empty());
        let mut store = Self {
            pool: Some(pool),
            target: target.clone(),
            connect_error,
            max_connections,
            max_attempts: options.max_attempts.max(1),
            max_batch: options.max_batch.max(1),
            retries: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            flavour: Flavour::Other,
            follower: Follower::new(
                image.clone(),
                config.clone(),
                manager.clone(),
                target.clone(),
            ),
            image,
            writer: Mutex::new(Writer {
                open: None,
                next_seq: 1,
            }),
            queued: AtomicUsize::new(0),
            outcomes: Mutex::new(BTreeMap::new()),
            decided: Condvar::new(),
        };
        let mut conn = store.conn()?;
        schema::run(&mut conn.client)?;
        store.flavour = conn.flavour;
        let image = Arc::new(Image::load(&mut conn)?);
        drop(conn);
        store.follower = Follower::new(image.clone(), config, manager, store.target.clone());
        store.image = image;
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

    /// How many catch-ups the reads on the async runtime shared, since opening (each one
    /// statement, or two when something changed).
    pub fn catch_ups(&self) -> u64 {
        self.follower.rounds()
    }

    /// Entities held, by kind (operational intents, constraints, subscriptions), as of now.
    pub fn counts(&self) -> Result<(usize, usize, usize)> {
        self.sync()?;
        let state = self.image.read()?;
        let m = &state.mem;
        Ok((
            m.operational_intents.len(),
            m.constraints.len(),
            m.subscriptions.len(),
        ))
    }

    /// Brings the image up to every write committed before this call; see `image.rs`.
    fn sync(&self) -> Result<()> {
        self.image.sync(|| {
            // A pooled connection the server closed shows on its first statement: one more
            // try, on a fresh one.
            let mut last = None;
            for _ in 0..2 {
                let mut conn = self.conn()?;
                match self.image.catch_up(&mut conn, None) {
                    Ok(()) => return Ok(()),
                    Err(PgError::Sql(e)) if classify(&e) != error::Kind::Internal => {
                        last = Some(e);
                    }
                    Err(PgError::Sql(e)) => return Err(self.failed("read", &e)),
                    Err(other) => return Err(other.into()),
                }
            }
            match last {
                Some(e) => Err(self.failed("read", &e)),
                None => Err(DssError::Internal("the catch-up did not run".into())),
            }
        })
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
        error::failed(&self.target, what, e)
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

    /// Writes the changes of `batch` under its number and commits; how that ended. A
    /// committed batch is applied to the image.
    fn commit(&self, batch: &mut Batch) -> Outcome {
        let conn = &mut *batch.conn;
        let number = batch.number;
        let now = chrono::Utc::now();
        let result = persist(conn, number, now, batch.pending.changes())
            .and_then(|()| {
                if number % PRUNE_EVERY == 0 {
                    prune(conn, now)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| conn.batch("COMMIT"));
        match result {
            Ok(()) => {
                batch.open = false;
                self.commits.fetch_add(1, Ordering::Relaxed);
                match self.image.apply_own(number, batch.pending.changes()) {
                    Ok(()) => Outcome::Committed,
                    // Committed all the same: a later catch-up brings the changes in.
                    Err(e) => {
                        tracing::error!(error = %e, "applying a commit to the image failed");
                        Outcome::Committed
                    }
                }
            }
            Err(e) if is_retryable(&e) => Outcome::Retry,
            Err(e) => match self.failed("update", &e) {
                DssError::Unavailable(m) => Outcome::Unavailable(m),
                other => Outcome::Internal(other.to_string()),
            },
        }
    }

    /// Opens a write transaction on `conn`: takes the next number (and with it the lock that
    /// orders writers) and brings the image up to the number before it. Returns the number.
    fn begin(&self, conn: &mut Conn) -> Result<i64, PgError> {
        let begin = match self.flavour {
            Flavour::PostgreSql => BEGIN_POSTGRES,
            Flavour::Other => BEGIN_OTHER,
        };
        let mut number = None;
        for m in conn.client.simple_query(begin)? {
            if let SimpleQueryMessage::Row(r) = m {
                number = r.get(0).and_then(|n| n.parse::<i64>().ok());
            }
        }
        let number = number.ok_or_else(|| PgError::Schema("the log_head row is missing".into()))?;
        let at = self
            .image
            .seq()
            .map_err(|e| PgError::Corrupt(e.to_string()))?;
        if at != number - 1 {
            self.image.catch_up(conn, Some(number - 1))?;
        }
        Ok(number)
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
            let number = match self.begin(&mut conn) {
                Ok(n) => n,
                Err(e) => {
                    let _ = conn.batch("ROLLBACK");
                    return match e {
                        PgError::Sql(e) => match classify(&e) {
                            error::Kind::Unavailable => Run::Stale,
                            error::Kind::Retry => Run::Retry(e.to_string()),
                            error::Kind::Internal => Run::Done(Err(self.failed("update", &e))),
                        },
                        other => Run::Done(Err(other.into())),
                    };
                }
            };
            let seq = w.next_seq;
            w.next_seq += 1;
            w.open = Some(Batch {
                seq,
                number,
                conn,
                pending: Pending::default(),
                members: 0,
                open: true,
            });
        }
        let Some(batch) = w.open.as_mut() else {
            return Run::Done(Err(DssError::Internal("no open write transaction".into())));
        };
        let seq = batch.seq;
        let (result, mine) = {
            let state = match self.image.read() {
                Ok(s) => s,
                Err(e) => return Run::Done(Err(e)),
            };
            let below = Layered {
                base: &state.mem,
                top: &batch.pending,
            };
            let mut overlay = Overlay::new(&below);
            let result = f(&mut overlay);
            (result, overlay.into_pending())
        };
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
        self.sync()?;
        self.read_current(f)
    }

    fn write(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        self.with_retry("update", |_| self.write_once(f))
    }

    fn catch_up(&self) -> Option<CatchUp<'_>> {
        self.follower.catch_up()
    }

    fn read_current(&self, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        let state = self.image.read()?;
        f(&state.mem)
    }

    fn expired(&self, cutoff: Timestamp) -> Result<Expired> {
        self.sync()?;
        Ok(self.image.read()?.mem.expired(cutoff))
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
