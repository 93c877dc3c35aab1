//! Storage errors, as decisions for the caller rather than one variant per driver error.

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; the string names what already exists.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The change is not allowed in the current state (e.g. writing to a closed session);
    /// the string says why, for the caller.
    #[error("rejected: {0}")]
    Rejected(String),
    /// The database could not be reached or timed out; worth retrying later.
    #[error("database unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("database error")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}
