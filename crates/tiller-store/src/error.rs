//! Mapping from the drivers' errors (sqlx, and rusqlite on the SQLite writer thread) to
//! the port's `StoreError`, in one place.

use tiller_core::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL: expected sqlite://… or postgres://…")]
    UnsupportedUrl,
    #[error("invalid database URL")]
    InvalidUrl(#[source] sqlx::Error),
    #[error(
        "the SQLite URL names no file: give a path, e.g. sqlite://./tiller-data/tiller.db \
         (relative to the working directory) or sqlite:///var/lib/tiller/tiller.db (absolute)"
    )]
    MissingSqlitePath,
    #[error(
        "cannot connect to PostgreSQL: {reason} to {host}:{port} (is the server running, and \
         are the host and port in database.url right?)"
    )]
    Unreachable {
        reason: String,
        host: String,
        port: u16,
        #[source]
        source: sqlx::Error,
    },
    #[error("creating the SQLite directory {0}")]
    CreateDir(String, #[source] std::io::Error),
    #[error("connecting to the database")]
    Connect(#[source] sqlx::Error),
    #[error("applying migrations")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("opening the SQLite writer or readers")]
    Open(#[source] StoreError),
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
        other => StoreError::Other(Box::new(Bounded::of(&other))),
    }
}

/// Most characters of a driver's error text kept for the log.
const MAX_ERROR_TEXT: usize = 300;

/// A driver error as loggable text: without the statement's SQL (which rusqlite quotes
/// whole, placeholders and all) and cut to [`MAX_ERROR_TEXT`] characters, so one failure
/// stays one short log line. The driver error itself is dropped, so no `source()` chain
/// or `Debug` can print more.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Bounded(String);

impl Bounded {
    fn of(e: &dyn std::error::Error) -> Self {
        Self::text(e.to_string())
    }

    fn text(text: String) -> Self {
        match text.char_indices().nth(MAX_ERROR_TEXT) {
            Some((cut, _)) => Self(format!(
                "{}… ({} bytes cut)",
                &text[..cut],
                text.len() - cut
            )),
            None => Self(text),
        }
    }

    fn of_sqlite(e: &rusqlite::Error) -> Self {
        match e {
            // Its Display and Debug carry the whole statement.
            rusqlite::Error::SqlInputError { error, msg, .. } => {
                Self::text(format!("{msg} ({:?})", error.code))
            }
            other => Self::of(other),
        }
    }
}

/// What a rusqlite error means to the port, decided the way [`store_error`] decides for
/// sqlx: the same `Conflict` column names, `Unavailable` for a busy or failing database.
enum Kind {
    NotFound,
    Conflict(String),
    Unavailable,
    Other,
}

fn kind(e: &rusqlite::Error) -> Kind {
    use rusqlite::ffi::{ErrorCode, SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
    match e {
        rusqlite::Error::QueryReturnedNoRows => Kind::NotFound,
        rusqlite::Error::SqliteFailure(f, message)
            if f.extended_code == SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            Kind::Conflict(conflicting_column(
                message.as_deref().unwrap_or_default(),
                None,
            ))
        }
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::CannotOpen
                    | ErrorCode::DiskFull
            ) =>
        {
            Kind::Unavailable
        }
        _ => Kind::Other,
    }
}

#[expect(
    clippy::needless_pass_by_value,
    reason = "the `map_err(sqlite_error)` shape; the error is consumed by dropping it"
)]
pub(crate) fn sqlite_error(e: rusqlite::Error) -> StoreError {
    match kind(&e) {
        Kind::NotFound => StoreError::NotFound,
        Kind::Conflict(column) => StoreError::Conflict(column),
        Kind::Unavailable => StoreError::Unavailable(Box::new(Bounded::of_sqlite(&e))),
        Kind::Other => StoreError::Other(Box::new(Bounded::of_sqlite(&e))),
    }
}

/// The error of a statement that a whole group of writes shares (its `COMMIT`), once per
/// write: rusqlite's errors are not `Clone`.
pub(crate) fn sqlite_error_ref(e: &rusqlite::Error) -> StoreError {
    let shared = || Box::new(GroupFailed(Bounded::of_sqlite(e).0));
    match kind(e) {
        Kind::NotFound => StoreError::NotFound,
        Kind::Conflict(column) => StoreError::Conflict(column),
        Kind::Unavailable => StoreError::Unavailable(shared()),
        Kind::Other => StoreError::Other(shared()),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the write's group failed: {0}")]
pub(crate) struct GroupFailed(String);

/// The SQLite writer thread has stopped, or a write panicked on it.
#[derive(Debug, thiserror::Error)]
#[error("the SQLite writer thread is gone")]
pub(crate) struct WriterGone;

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
    use super::{conflicting_column, sqlite_error};

    /// What a log line with `error = ?e` and its `source()` chain shows.
    fn log_text(e: &tiller_core::StoreError) -> String {
        let mut out = format!("{e:?}");
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            out.push_str(" / ");
            out.push_str(&s.to_string());
            source = s.source();
        }
        out
    }

    #[test]
    fn logged_errors_carry_no_statement_text() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let placeholders = vec!["?"; 40_000].join(",");
        let sql = format!("SELECT 1 WHERE 1 IN ({placeholders})");
        let e = conn.prepare(&sql).map(|_| ()).unwrap_err();
        let logged = log_text(&sqlite_error(e));
        assert!(logged.len() < 600, "{} bytes: {logged:.200}", logged.len());
        assert!(!logged.contains("?,?"), "{logged}");
        let e = conn.prepare("SELEC nonsense").map(|_| ()).unwrap_err();
        let logged = log_text(&sqlite_error(e));
        assert!(logged.contains("syntax error"), "{logged}");
    }

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
