//! Storage errors, and how the DSS rules see them.

use deconflict_core::DssError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("schema: {0}")]
    Schema(String),
    #[error("corrupt data: {0}")]
    Corrupt(String),
    #[error("an earlier commit failed: {0}")]
    CommitFailed(String),
}

impl From<StoreError> for DssError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Sqlite(_) | StoreError::Io(_) | StoreError::CommitFailed(_) => {
                DssError::Unavailable(e.to_string())
            }
            StoreError::Schema(_) | StoreError::Corrupt(_) => DssError::Internal(e.to_string()),
        }
    }
}
