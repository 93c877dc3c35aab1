//! Mapping from sqlx's errors to the port's `StoreError`, in one place.

use tiller_core::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL: expected sqlite://… or postgres://…")]
    UnsupportedUrl,
    #[error("invalid database URL")]
    InvalidUrl(#[source] sqlx::Error),
    #[error("creating the SQLite directory {0}")]
    CreateDir(String, #[source] std::io::Error),
    #[error("connecting to the database")]
    Connect(#[source] sqlx::Error),
    #[error("applying migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(conflicting_column(db.message(), db.constraint()))
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(Box::new(e))
        }
        other => StoreError::Other(Box::new(other)),
    }
}

/// A stored value this build cannot read (an unknown enum spelling, a malformed id).
#[derive(Debug, thiserror::Error)]
#[error("unreadable stored {0}")]
pub(crate) struct CorruptRow(String);

pub(crate) fn corrupt(what: String) -> StoreError {
    StoreError::Other(Box::new(CorruptRow(what)))
}

/// A message body or report that does not (de)serialise.
pub(crate) fn json_error(e: serde_json::Error) -> StoreError {
    StoreError::Other(Box::new(e))
}

/// Names the column of a unique violation: SQLite says `UNIQUE constraint failed:
/// tenants.company`, Postgres names the constraint `tenants_company_key`.
fn conflicting_column(message: &str, constraint: Option<&str>) -> String {
    if let Some(c) = constraint {
        let trimmed = c.strip_suffix("_key").unwrap_or(c);
        return trimmed
            .split_once('_')
            .map_or(trimmed, |(_, col)| col)
            .to_owned();
    }
    message
        .rsplit_once('.')
        .map_or(message, |(_, col)| col)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::conflicting_column;

    #[test]
    fn names_the_column_on_both_dialects() {
        assert_eq!(
            conflicting_column("UNIQUE constraint failed: tenants.company", None),
            "company"
        );
        assert_eq!(
            conflicting_column("duplicate key", Some("tenants_company_key")),
            "company"
        );
        assert_eq!(
            conflicting_column("duplicate key", Some("tenants_app_key_key")),
            "app_key"
        );
    }
}
