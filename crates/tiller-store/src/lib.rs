//! The only crate with SQL: SQLite and PostgreSQL implementations of the storage ports
//! in `tiller-core`. The backend is chosen from the URL scheme in [`connect`].

mod error;
#[cfg(test)]
mod migration_tests;
mod postgres;
mod rows;
mod sqlite;
#[cfg(feature = "test-support")]
pub mod testing;

use tiller_core::store::DynStore;

pub use error::ConnectError;

/// How to open a store.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Upper bound of pooled connections (readers, for SQLite, which has one writer).
    pub max_connections: u32,
    /// Apply pending migrations before returning.
    pub migrate: bool,
    /// PostgreSQL: hold an advisory lock while migrating, so nodes starting together migrate
    /// once. Off only for databases without `pg_advisory_lock` (CockroachDB); then migrate
    /// from one place at a time.
    pub migration_lock: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            migrate: true,
            migration_lock: true,
        }
    }
}

/// Opens the store named by `url`: `sqlite://path/to/file.db` or `postgres://…`.
/// A SQLite file and its directory are created when missing.
pub async fn connect(url: &str, opts: &ConnectOptions) -> Result<DynStore, ConnectError> {
    match Backend::of(url)? {
        Backend::Sqlite => Ok(std::sync::Arc::new(
            sqlite::SqliteStore::connect(url, opts).await?,
        )),
        Backend::Postgres => Ok(std::sync::Arc::new(
            postgres::PgStore::connect(url, opts).await?,
        )),
    }
}

/// Starts relaying commits between the nodes sharing the database at `url` (see
/// [`postgres::relay`]): this node's commits on `bus` wake the other nodes' workers, and
/// theirs reach `bus` as `Committed::Elsewhere`. `false`, doing nothing, for SQLite, which
/// one node owns.
pub async fn relay_commits(
    url: &str,
    bus: &std::sync::Arc<tiller_core::bus::CommitBus>,
) -> Result<bool, ConnectError> {
    match Backend::of(url)? {
        Backend::Sqlite => Ok(false),
        Backend::Postgres => {
            postgres::relay::CommitRelay::start(url, bus).await?;
            Ok(true)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of(url: &str) -> Result<Self, ConnectError> {
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(ConnectError::UnsupportedUrl),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn backend_is_chosen_by_scheme() {
        assert_eq!(Backend::of("sqlite://./x.db").unwrap(), Backend::Sqlite);
        assert_eq!(Backend::of("postgres://h/db").unwrap(), Backend::Postgres);
        assert_eq!(Backend::of("postgresql://h/db").unwrap(), Backend::Postgres);
        assert!(Backend::of("mysql://h/db").is_err());
        assert!(Backend::of("nonsense").is_err());
    }

    /// Migrations come in pairs: both dialects hold the same version numbers.
    #[test]
    fn migration_directories_hold_the_same_versions() {
        let versions = |m: &sqlx::migrate::Migrator| -> BTreeSet<i64> {
            m.iter().map(|m| m.version).collect()
        };
        let sqlite = versions(&sqlite::MIGRATOR);
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, versions(&postgres::MIGRATOR));
    }
}
