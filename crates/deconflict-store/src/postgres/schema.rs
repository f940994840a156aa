//! Versioned schema migrations: numbered SQL files embedded in the binary, applied in order,
//! each in its own transaction together with its row in `schema_versions`.
//!
//! Several instances may start at once on an empty database: each sees the same missing
//! version, one wins, and the others fail on the duplicate table or version row, then retry
//! and find the version applied.

use std::time::Duration;

use postgres::{Client, IsolationLevel};

use super::error::PgError;

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "documents",
        sql: include_str!("migrations/0002_documents.sql"),
    },
    Migration {
        version: 3,
        name: "image",
        sql: include_str!("migrations/0003_image.sql"),
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 3;

const ATTEMPTS: u32 = 10;

/// Brings the schema up to [`SCHEMA_VERSION`]; returns the versions it applied (none when the
/// schema was current). Fails on a database whose schema is newer than this build.
pub(crate) fn run(client: &mut Client) -> Result<Vec<i64>, PgError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match run_once(client) {
            Err(PgError::Sql(e)) if attempt < ATTEMPTS && lost_race(&e) => {
                tracing::debug!(error = %e, attempt, "migration raced another instance; retrying");
                std::thread::sleep(Duration::from_millis(rand::random_range(10..=100)));
            }
            other => return other,
        }
    }
}

/// Errors that mean another instance is migrating (or just migrated) the same database.
fn lost_race(e: &postgres::Error) -> bool {
    let Some(code) = e.code() else {
        return false;
    };
    // 40001/40P01: serialization failure, deadlock; 23505: unique violation (the version row,
    // or PostgreSQL's own catalogue on a concurrent CREATE TABLE); 42P07: table exists;
    // 42710: the table's row type exists (another concurrent CREATE TABLE); 42701: column
    // exists, 42P01: table missing, 42704: index missing (an ALTER, DROP TABLE or DROP INDEX
    // that waited for another instance's migration of the same version).
    matches!(
        code.code(),
        "40001" | "40P01" | "23505" | "42P07" | "42710" | "42701" | "42P01" | "42704"
    )
}

fn run_once(client: &mut Client) -> Result<Vec<i64>, PgError> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_versions (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )?;
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::Serializable)
            .start()?;
        let current: Option<i64> = tx
            .query_one("SELECT max(version) FROM schema_versions", &[])?
            .try_get(0)?;
        let current = current.unwrap_or(0);
        if current > SCHEMA_VERSION {
            return Err(PgError::Schema(format!(
                "the database has schema version {current}, newer than this build knows \
                 ({SCHEMA_VERSION}); run a newer deconflict"
            )));
        }
        if m.version <= current {
            continue;
        }
        tx.batch_execute(m.sql)?;
        tx.execute(
            "INSERT INTO schema_versions (version, name) VALUES ($1, $2)",
            &[&m.version, &m.name],
        )?;
        tx.commit()?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied schema migration"
        );
        applied.push(m.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(SCHEMA_VERSION));
    }

    /// Only portable SQL on the required path: nothing CockroachDB or YugabyteDB would refuse.
    #[test]
    fn migrations_use_portable_sql_only() {
        for m in MIGRATIONS {
            let sql: String = m
                .sql
                .lines()
                .map(|l| {
                    l.split("--")
                        .next()
                        .unwrap_or_default()
                        .to_ascii_uppercase()
                        + "\n"
                })
                .collect();
            assert!(sql.contains("CREATE TABLE"));
            for banned in [
                "SERIAL",
                "EXTENSION",
                "USING GIST",
                "USING GIN",
                "USING BRIN",
                "INHERITS",
                "UNLOGGED",
                " JSONB",
                "CREATE FUNCTION",
                "TRIGGER",
            ] {
                assert!(!sql.contains(banned), "{} uses {banned}", m.name);
            }
        }
    }
}
