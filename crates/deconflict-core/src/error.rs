//! The errors of the DSS rules: each names the field or entity and the rule it broke.

use crate::wire::AirspaceConflictResponse;

pub type Result<T, E = DssError> = std::result::Result<T, E>;

/// Why a DSS request was refused or failed. The server maps each variant to one HTTP status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DssError {
    /// 400: a field is missing or breaks a rule.
    #[error("{field}: {rule}")]
    BadRequest { field: String, rule: String },
    /// 413: an area or a result set is larger than the configured limit.
    #[error("{field}: {rule}")]
    TooLarge { field: String, rule: String },
    /// 403: the caller may not do this (wrong scope for a flag, or a foreign entity).
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409: a stale OVN or version, or an id that already exists.
    #[error("{0}")]
    Conflict(String),
    /// 409 with the entities the key did not prove knowledge of.
    #[error("{}", .0.message)]
    AirspaceConflict(Box<AirspaceConflictResponse>),
    /// 412: the manager is marked Down.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 503: the store cannot be reached; retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// 500: a fault of ours; the cause goes to the log, not to the client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DssError {
    pub fn bad(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::BadRequest {
            field: field.into(),
            rule: rule.into(),
        }
    }
}
