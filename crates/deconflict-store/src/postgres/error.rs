//! Errors of the PostgreSQL backend, and how the DSS rules see them.

use deconflict_core::DssError;
use postgres::error::SqlState;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// The server could not be reached or the connection broke.
    #[error("PostgreSQL at {target} is unreachable: {cause}")]
    Unreachable { target: String, cause: String },
    /// A statement failed.
    #[error("PostgreSQL: {}", detail(.0))]
    Sql(#[from] postgres::Error),
    /// The connection URL is not one the client understands.
    #[error("bad PostgreSQL URL: {0}")]
    Url(String),
    #[error("schema: {0}")]
    Schema(String),
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

/// What to do about a failed statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Serialization failure or deadlock: run the transaction again.
    Retry,
    /// The database is unreachable, shutting down or out of connections: 503.
    Unavailable,
    /// Anything else is a fault of ours (bad SQL, a violated constraint): 500.
    Internal,
}

pub(crate) fn classify(e: &postgres::Error) -> Kind {
    match e.code() {
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            Kind::Retry
        }
        Some(c) => {
            let code = c.code();
            // 08: connection exception; 53: insufficient resources (too many connections,
            // disk full); 57P0x: the server is shutting down or cannot connect now; 40003
            // (CockroachDB): the statement's outcome is unknown.
            if code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P")
                || code == "40003"
            {
                Kind::Unavailable
            } else {
                Kind::Internal
            }
        }
        // No SQLSTATE: I/O, a closed connection, a timeout.
        None => Kind::Unavailable,
    }
}

/// Whether the error is one a transaction is retried on.
pub(crate) fn is_retryable(e: &postgres::Error) -> bool {
    classify(e) == Kind::Retry
}

/// The DSS error for a failed statement (one that will not be retried).
pub(crate) fn to_dss(e: &postgres::Error) -> DssError {
    match classify(e) {
        Kind::Unavailable => DssError::Unavailable(format!("PostgreSQL: {}", detail(e))),
        Kind::Retry => DssError::Conflict(format!(
            "the transaction conflicted with simultaneous changes: {}",
            detail(e)
        )),
        Kind::Internal => DssError::Internal(format!("PostgreSQL: {}", detail(e))),
    }
}

/// The error for a failed statement of the store at `target` (`host:port/database`), logged,
/// with the database named when it is unreachable.
pub(crate) fn failed(target: &str, what: &str, e: &postgres::Error) -> DssError {
    tracing::error!(error = %e, target = %target, "{what} failed");
    match to_dss(e) {
        DssError::Unavailable(m) => DssError::Unavailable(format!("{m} (database {target})")),
        other => other,
    }
}

/// The server's message with its SQLSTATE, which `Display` of `postgres::Error` leaves out,
/// or the error with its causes (`error connecting to server: Connection refused ...`).
pub(crate) fn detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => with_causes(e),
    }
}

/// An error and its sources, `: `-separated. The client's errors never quote the password.
pub(crate) fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}

impl From<PgError> for DssError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Unreachable { .. } => DssError::Unavailable(e.to_string()),
            PgError::Sql(ref s) => to_dss(s),
            PgError::Url(_) | PgError::Schema(_) | PgError::Corrupt(_) => {
                DssError::Internal(e.to_string())
            }
        }
    }
}
