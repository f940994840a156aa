//! The PostgreSQL backend, for a pool of `deconflict serve` instances sharing one database.
//! It keeps to SQL that CockroachDB and YugabyteDB accept too.
//!
//! Unlike [`SqliteStore`](crate::SqliteStore), nothing is answered from memory: another
//! instance may have written since. Every read and write runs in a database transaction; a
//! write runs its rules at SERIALIZABLE against a [`ReadTx`] backed by SQL (with the
//! transaction's own changes laid over it), then writes the changes and commits. When the
//! database reports a serialization failure (SQLSTATE 40001) or a deadlock (40P01), the whole
//! write, rules included, runs again after a jittered back-off, a bounded number of times; then
//! the caller gets 409 "despite repeated attempts". Connection failures are 503.
//!
//! One instance runs one write transaction at a time (as the SQLite store commits one batch at
//! a time), so only writes of different instances can conflict; reads run in parallel on
//! REPEATABLE READ, read-only snapshots.
//!
//! Area look-ups pre-filter on per-volume grid cells and index boxes with plain B-tree indexes
//! and run the exact geometry test on the candidates (`area.rs`).

mod area;
mod error;
mod rows;
mod schema;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use deconflict_core::memstate::Overlay;
use deconflict_core::model::Timestamp;
use deconflict_core::store::{Expired, ReadTx, Store, Tx};
use deconflict_core::{DssError, Result};
use postgres::config::Host;
use postgres::{Client, Config, IsolationLevel, NoTls};
use r2d2_postgres::r2d2::{CustomizeConnection, Pool, PooledConnection};
use r2d2_postgres::PostgresConnectionManager;

pub use error::PgError;
pub use schema::SCHEMA_VERSION;

use error::{is_retryable, to_dss};
use rows::{persist, SqlView};

type Manager = PostgresConnectionManager<NoTls>;

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
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            max_attempts: 10,
        }
    }
}

/// The DSS store on PostgreSQL (or CockroachDB, YugabyteDB). Cheap to share: it holds a pool.
pub struct PostgresStore {
    /// Always `Some` until dropped; see the `Drop` impl.
    pool: Option<Pool<Manager>>,
    /// Where the database is, without credentials, for error messages.
    target: String,
    max_attempts: u32,
    retries: AtomicU64,
    flavour: Flavour,
    /// Held by the write in progress: this instance runs one write transaction at a time.
    writer: Mutex<()>,
}

/// Why one run of a write did not commit.
enum Failure {
    /// The rules refused: final.
    Rule(DssError),
    /// A statement failed: retried when it is a serialization failure.
    Sql(postgres::Error),
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
        cause: e.to_string(),
    })?;
    schema::run(&mut client)
}

/// What the server is. Some remedies below are for PostgreSQL's own serializable
/// implementation (predicate locks, first committer wins) and use statements that CockroachDB
/// or YugabyteDB lack or treat differently; those servers prioritise retried transactions
/// themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavour {
    PostgreSql,
    Other,
}

impl Flavour {
    fn of(version: &str) -> Self {
        if version.starts_with("PostgreSQL") && !version.contains("-YB-") {
            Self::PostgreSql
        } else {
            Self::Other
        }
    }
}

/// On PostgreSQL, a write that has failed to serialize this many times runs alone next time:
/// every write first takes a lock on the empty `write_gate` table, shared normally, exclusive
/// for such a write. The lock is taken before the transaction's first query, so its snapshot
/// is taken once every write that was running has finished and none can start: it cannot fail
/// to serialize again. Without this, a write that keeps losing to others that keep arriving
/// (as on a small table, where every write touches the same index pages) could exhaust its
/// attempts.
const GATE_AFTER_FAILURES: u32 = 2;
const GATE_SHARED: &str = "LOCK TABLE write_gate IN ROW SHARE MODE";
const GATE_ALONE: &str = "LOCK TABLE write_gate IN EXCLUSIVE MODE";

/// Prepares each new connection. On PostgreSQL itself (not CockroachDB, whose serializable
/// transactions track exact key spans), sequential scans are turned off: a sequential scan
/// takes a predicate lock on the whole table, so on a small table every pair of concurrent
/// writes would conflict, while index scans lock only the index pages they read (the remedy
/// the PostgreSQL manual suggests for serialization failures).
#[derive(Debug)]
struct Setup;

impl CustomizeConnection<Client, postgres::Error> for Setup {
    fn on_acquire(&self, conn: &mut Client) -> Result<(), postgres::Error> {
        let version: String = conn.query_one("SELECT version()", &[])?.try_get(0)?;
        if Flavour::of(&version) == Flavour::PostgreSql {
            conn.batch_execute("SET enable_seqscan = off")?;
        }
        Ok(())
    }
}

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
        let pool = Pool::builder()
            .max_size(options.max_connections.max(1))
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout)
            .connection_customizer(Box::new(Setup))
            .build_unchecked(PostgresConnectionManager::new(config, NoTls));
        let mut store = Self {
            pool: Some(pool),
            target,
            max_attempts: options.max_attempts.max(1),
            retries: AtomicU64::new(0),
            flavour: Flavour::Other,
            writer: Mutex::new(()),
        };
        let mut conn = store.conn()?;
        schema::run(&mut conn)?;
        let version: String = conn.query_one("SELECT version()", &[])?.try_get(0)?;
        drop(conn);
        store.flavour = Flavour::of(&version);
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

    /// Entities held, by kind (operational intents, constraints, subscriptions).
    pub fn counts(&self) -> Result<(usize, usize, usize)> {
        let mut conn = self.conn()?;
        let view = SqlView::new(&mut *conn);
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
        pool.get().map_err(|e| PgError::Unreachable {
            target: self.target.clone(),
            cause: e.to_string(),
        })
    }

    fn write_once(
        client: &mut Client,
        gate: Option<&str>,
        f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>,
    ) -> Result<(), Failure> {
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::Serializable)
            .start()
            .map_err(Failure::Sql)?;
        if let Some(gate) = gate {
            // Before any query, so that the snapshot is taken once the gate is open.
            tx.batch_execute(gate).map_err(Failure::Sql)?;
        }
        let (pending, mut seen) = {
            let view = SqlView::new(&mut tx);
            let mut overlay = Overlay::new(&view);
            let result = f(&mut overlay);
            let pending = overlay.into_pending();
            // A failed statement decides, whatever the rule made of it.
            if let Some(e) = view.take_failure() {
                return Err(Failure::Sql(e));
            }
            result.map_err(Failure::Rule)?;
            (pending, view.take_seen())
        };
        if !pending.is_empty() {
            persist(&mut tx, &mut seen, pending.changes()).map_err(Failure::Sql)?;
        }
        tx.commit().map_err(Failure::Sql)
    }

    fn read_once(
        client: &mut Client,
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>,
    ) -> Result<(), Failure> {
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(Failure::Sql)?;
        let result = {
            let view = SqlView::new(&mut tx);
            let result = f(&view);
            if let Some(e) = view.take_failure() {
                return Err(Failure::Sql(e));
            }
            result
        };
        tx.commit().map_err(Failure::Sql)?;
        result.map_err(Failure::Rule)
    }

    /// Runs `once` until it commits, fails for good, or has run `max_attempts` times.
    fn with_retry(
        &self,
        what: &str,
        mut once: impl FnMut(&mut Client, u32) -> Result<(), Failure>,
    ) -> Result<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = self.conn()?;
            match once(&mut conn, attempt) {
                Ok(()) => return Ok(()),
                Err(Failure::Rule(e)) => return Err(e),
                Err(Failure::Sql(e)) if is_retryable(&e) => {
                    drop(conn);
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
                Err(Failure::Sql(e)) => {
                    let err = to_dss(&e);
                    tracing::error!(error = %e, target = %self.target, "{what} failed");
                    return Err(match err {
                        DssError::Unavailable(m) => {
                            DssError::Unavailable(format!("{m} (database {})", self.target))
                        }
                        other => other,
                    });
                }
            }
        }
    }
}

/// Closing a connection of the blocking client runs a small runtime of its own, which panics on
/// a thread that drives async tasks (as when a server drops its state at shutdown). The pool is
/// therefore dropped, and its connections closed, on a thread of its own.
impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let closed = std::thread::Builder::new()
                .name("deconflict-pg-close".into())
                .spawn(move || drop(pool))
                .map(std::thread::JoinHandle::join);
            if !matches!(closed, Ok(Ok(()))) {
                tracing::warn!("closing the PostgreSQL connections failed");
            }
        }
    }
}

impl Store for PostgresStore {
    fn read(&self, f: &mut dyn FnMut(&dyn ReadTx) -> Result<()>) -> Result<()> {
        self.with_retry("read", |client, _| Self::read_once(client, f))
    }

    fn write(&self, f: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        // Writes of one instance never race each other: under PostgreSQL's page-level
        // predicate locks, nearby writes would otherwise fail and retry. Writes of different
        // instances are ordered by the database and retried on serialization failures.
        let _one_at_a_time = self
            .writer
            .lock()
            .map_err(|_| DssError::Internal("the write lock was poisoned by a panic".into()))?;
        let flavour = self.flavour;
        self.with_retry("update", |client, attempt| {
            let gate = match flavour {
                Flavour::Other => None,
                Flavour::PostgreSql if attempt > GATE_AFTER_FAILURES => Some(GATE_ALONE),
                Flavour::PostgreSql => Some(GATE_SHARED),
            };
            Self::write_once(client, gate, f)
        })
    }

    fn expired(&self, cutoff: Timestamp) -> Result<Expired> {
        let mut conn = self.conn()?;
        let view = SqlView::new(&mut *conn);
        let expired = view.expired(cutoff);
        match view.take_failure() {
            Some(e) => Err(to_dss(&e)),
            None => expired,
        }
    }

    fn health(&self) -> Result<()> {
        let mut conn = self.conn()?;
        conn.simple_query("SELECT 1")
            .map(|_| ())
            .map_err(|e| DssError::Unavailable(format!("PostgreSQL at {}: {e}", self.target)))
    }
}
