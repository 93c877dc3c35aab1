//! Mapping from the drivers' errors (sqlx, and rusqlite on the SQLite writer thread) to
//! the port's `StoreError`, in one place.

use tiller_core::{Entity, StoreError, Unique};

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

/// A sqlx error as the port's: `Conflict` for a violation of a constraint in
/// [`UNIQUES`], `Unavailable` for a pool or connection failure.
///
/// A missing row (`RowNotFound`, from `fetch_one`) names no entity, so it is not
/// `NotFound` here: a statement that may find nothing says what it looks up with
/// [`not_found`] (or `fetch_optional`). One reaching this is a statement expected to
/// return a row that did not, a bug: `Other`, logged.
pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            match unique_of(db.constraint(), db.message()) {
                Some(u) => StoreError::Conflict(u),
                None => StoreError::Other(Box::new(UnmappedUnique(
                    Bounded::text(format!(
                        "{} ({})",
                        db.message(),
                        db.constraint().unwrap_or("no constraint name")
                    ))
                    .0,
                ))),
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(Box::new(e))
        }
        other => StoreError::Other(Box::new(Bounded::of(&other))),
    }
}

/// [`store_error`] for a statement whose missing row is `entity` not found:
/// `.fetch_one(…).await.map_err(not_found(Entity::Session))`.
pub(crate) fn not_found(entity: Entity) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match e {
        sqlx::Error::RowNotFound => StoreError::NotFound(entity),
        other => store_error(other),
    }
}

/// Every uniqueness rule a write can break, as each dialect names it: the [`Unique`], the
/// PostgreSQL constraint (or unique index) name, and the `table.column` list SQLite's
/// message ends with (`UNIQUE constraint failed: tenants.company`). The names are the
/// migrations' (PostgreSQL's default `<table>_<column>_key` unless a `CONSTRAINT` names
/// it). Other constraints (identity primary keys, the retired `api_tokens`) cannot be
/// hit by the stores' writes; a violation of one is a bug and stays `Other`.
const UNIQUES: &[(Unique, &str, &str)] = &[
    (
        Unique::TenantCompany,
        "tenants_company_key",
        "tenants.company",
    ),
    (
        Unique::TenantAppKey,
        "tenants_app_key_key",
        "tenants.app_key",
    ),
    (
        Unique::TenantSignKey,
        "tenants_sign_key_key",
        "tenants.sign_key",
    ),
    (
        Unique::TenantAccessKey,
        "tenants_access_key_key",
        "tenants.access_key",
    ),
    (
        Unique::TokenHash,
        "api_token_hashes_pkey",
        "api_token_hashes.token_hash",
    ),
    (
        Unique::MessageMsgId,
        "messages_msg_id_key",
        "messages.tenant_id, messages.msg_id",
    ),
    (
        Unique::EndpointId,
        "webhook_endpoints_id_key",
        "webhook_endpoints.id",
    ),
    (
        Unique::EventId,
        "events_event_id_key",
        "webhook_events.event_id",
    ),
    (
        Unique::RobotDefault,
        "robots_tenant_default",
        "robots.tenant_id",
    ),
    (
        Unique::SeatEmail,
        "seats_email_key",
        "seats.tenant_id, seats.email",
    ),
    (
        Unique::ChannelPhoneNumberId,
        "channels_phone_number_id_key",
        "channels.phone_number_id",
    ),
];

/// A unique violation of a constraint [`UNIQUES`] does not name: a write the table does
/// not know can collide, a bug to fix there (or in the write), never a client's conflict.
#[derive(Debug, thiserror::Error)]
#[error("violation of a unique constraint missing from the UNIQUES table: {0}")]
pub(crate) struct UnmappedUnique(String);

/// What SQLite's message of a unique violation starts with, before the columns.
const SQLITE_UNIQUE_PREFIX: &str = "UNIQUE constraint failed: ";

/// The rule a unique violation broke: by PostgreSQL's constraint name when the driver
/// gives one, else by the columns of SQLite's message. `None` for one not in [`UNIQUES`].
fn unique_of(constraint: Option<&str>, message: &str) -> Option<Unique> {
    let row = if let Some(name) = constraint {
        UNIQUES.iter().find(|(_, pg, _)| *pg == name)
    } else {
        let columns = message.strip_prefix(SQLITE_UNIQUE_PREFIX)?;
        UNIQUES.iter().find(|(_, _, sqlite)| *sqlite == columns)
    };
    row.map(|(u, _, _)| *u)
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
/// rusqlite, decided as [`store_error`] decides for sqlx: the same [`UNIQUES`] table, `Unavailable` for a busy or failing database. A
/// missing row (`QueryReturnedNoRows`) is `Other`, as `RowNotFound` is: statements that
/// may find nothing use `optional` and name the entity (`statements::found`).
enum Kind {
    Conflict(Unique),
    UnmappedUnique,
    Unavailable,
    Other,
}

fn kind(e: &rusqlite::Error) -> Kind {
    use rusqlite::ffi::{ErrorCode, SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
    match e {
        rusqlite::Error::SqliteFailure(f, message)
            if f.extended_code == SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            match unique_of(None, message.as_deref().unwrap_or_default()) {
                Some(u) => Kind::Conflict(u),
                None => Kind::UnmappedUnique,
            }
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
        Kind::Conflict(u) => StoreError::Conflict(u),
        Kind::UnmappedUnique => {
            StoreError::Other(Box::new(UnmappedUnique(Bounded::of_sqlite(&e).0)))
        }
        Kind::Unavailable => StoreError::Unavailable(Box::new(Bounded::of_sqlite(&e))),
        Kind::Other => StoreError::Other(Box::new(Bounded::of_sqlite(&e))),
    }
}

/// The error of a statement that a whole group of writes shares (its `COMMIT`), once per
/// write: rusqlite's errors are not `Clone`.
pub(crate) fn sqlite_error_ref(e: &rusqlite::Error) -> StoreError {
    let shared = || Box::new(GroupFailed(Bounded::of_sqlite(e).0));
    match kind(e) {
        Kind::Conflict(u) => StoreError::Conflict(u),
        Kind::UnmappedUnique | Kind::Other => StoreError::Other(shared()),
        Kind::Unavailable => StoreError::Unavailable(shared()),
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

#[cfg(test)]
mod tests;
