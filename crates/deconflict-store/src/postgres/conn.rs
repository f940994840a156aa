//! Pooled connections that keep their prepared statements.
//!
//! Every statement the store runs has a fixed text (area look-ups take their cells as array
//! parameters), so each connection prepares it once, on first use, and afterwards sends only
//! Bind/Execute: no parsing and, once PostgreSQL settles on a generic plan, no planning. The
//! pool does not test a connection when it is checked out (that would be one more round trip
//! per request); a connection the server closed is found out by its first statement, which the
//! store then runs again on a fresh connection (see `PostgresStore::with_retry`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement};
use r2d2_postgres::r2d2::ManageConnection;

/// What the server is. Some remedies are for PostgreSQL's own serializable implementation
/// (predicate locks, first committer wins) and use statements that CockroachDB or YugabyteDB
/// lack or treat differently; those servers prioritise retried transactions themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    PostgreSql,
    Other,
}

impl Flavour {
    pub(crate) fn of(version: &str) -> Self {
        if version.starts_with("PostgreSQL") && !version.contains("-YB-") {
            Self::PostgreSql
        } else {
            Self::Other
        }
    }

    /// What a new connection runs first (see [`Manager`]).
    pub(crate) fn settings(self) -> Option<&'static str> {
        match self {
            Self::PostgreSql => {
                Some("SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan")
            }
            Self::Other => None,
        }
    }
}

/// One connection and the statements prepared on it, by their text.
pub(crate) struct Conn {
    pub(crate) client: Client,
    pub(crate) flavour: Flavour,
    statements: HashMap<String, Statement>,
}

impl Conn {
    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    /// Runs `sql` (prepared once per connection) and returns its rows.
    pub(crate) fn query(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.query(&s, params)
    }

    /// Runs `sql` (prepared once per connection) and hands its rows to `each` as they arrive,
    /// without holding them all.
    pub(crate) fn for_each_row<E: From<postgres::Error>>(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        mut each: impl FnMut(Row) -> Result<(), E>,
    ) -> Result<(), E> {
        let s = self.statement(sql)?;
        let mut rows = self.client.query_raw(&s, params.iter().copied())?;
        while let Some(row) = rows.next()? {
            each(row)?;
        }
        Ok(())
    }

    /// Runs `sql` (prepared once per connection); the number of rows it changed.
    pub(crate) fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let s = self.statement(sql)?;
        self.client.execute(&s, params)
    }

    /// Runs statements without parameters in one round trip (simple query protocol).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.client.batch_execute(sql)
    }
}

/// Opens [`Conn`]s. On PostgreSQL itself (not CockroachDB, whose serializable transactions
/// track exact key spans), sequential scans are turned off: a sequential scan takes a predicate
/// lock on the whole table, so on a small table every pair of concurrent writes would
/// conflict, while index scans lock only the index pages they read (the remedy the PostgreSQL
/// manual suggests for serialization failures).
#[derive(Debug, Clone)]
pub(crate) struct Manager {
    pub(crate) config: Config,
    /// Why the last attempt to connect failed (cleared by a success); never holds the
    /// password, which the client's errors do not quote.
    pub(crate) last_error: Arc<Mutex<Option<String>>>,
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Conn, postgres::Error> {
        let result = self.open();
        if let Ok(mut last) = self.last_error.lock() {
            *last = result.as_ref().err().map(|e| super::error::with_causes(e));
        }
        result
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.client.is_closed()
    }
}

impl Manager {
    fn open(&self) -> Result<Conn, postgres::Error> {
        let mut client = self.config.connect(NoTls)?;
        let version: String = client.query_one("SELECT version()", &[])?.try_get(0)?;
        let flavour = Flavour::of(&version);
        if let Some(settings) = flavour.settings() {
            client.batch_execute(settings)?;
        }
        Ok(Conn {
            client,
            flavour,
            statements: HashMap::new(),
        })
    }
}
