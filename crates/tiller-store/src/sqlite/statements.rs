//! Statement helpers shared by the writer's jobs and the readers: cached statements, rows
//! read by column name, and [`Query`] for SQL whose filters are optional.

use rusqlite::{params_from_iter, types::Value, Connection, OptionalExtension, Params};
use tiller_core::{Entity, StoreError, StoreResult};

use crate::{error::sqlite_error, rows::SqliteRow};

/// The one row of a statement that always returns one (an aggregate, `INSERT …
/// RETURNING`). None is a bug, `Other`: a statement that may find nothing is [`found`].
pub(crate) fn one<T: SqliteRow>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
) -> StoreResult<T> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_row(params, T::read))
        .map_err(sqlite_error)
}

/// The one row `sql` returns; `NotFound(entity)` when none.
pub(crate) fn found<T: SqliteRow>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    entity: Entity,
) -> StoreResult<T> {
    optional(conn, sql, params)?.ok_or(StoreError::NotFound(entity))
}

pub(crate) fn optional<T: SqliteRow>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
) -> StoreResult<Option<T>> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_row(params, T::read).optional())
        .map_err(sqlite_error)
}

pub(crate) fn all<T: SqliteRow>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
) -> StoreResult<Vec<T>> {
    let mut s = conn.prepare_cached(sql).map_err(sqlite_error)?;
    let rows = s.query_map(params, T::read).map_err(sqlite_error)?;
    rows.collect::<rusqlite::Result<_>>().map_err(sqlite_error)
}

/// Runs a statement; the number of rows it changed.
pub(crate) fn execute(conn: &Connection, sql: &str, params: impl Params) -> StoreResult<u64> {
    let changed = conn
        .prepare_cached(sql)
        .and_then(|mut s| s.execute(params))
        .map_err(sqlite_error)?;
    Ok(u64::try_from(changed).unwrap_or(u64::MAX))
}

/// `n` placeholders for an `IN (…)` list.
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// SQL built piece by piece, each bound value next to its `?`.
#[derive(Debug, Default)]
pub(crate) struct Query {
    sql: String,
    values: Vec<Value>,
}

impl Query {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            values: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends `?` bound to `value`.
    pub(crate) fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.sql.push('?');
        self.values.push(value.into());
        self
    }

    /// Appends `?, ?, …`, one per value (the inside of an `IN (…)`).
    pub(crate) fn bind_list<V: Into<Value>>(
        &mut self,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.bind(value);
        }
        self
    }

    pub(crate) fn one<T: SqliteRow>(&self, conn: &Connection) -> StoreResult<T> {
        one(conn, &self.sql, params_from_iter(&self.values))
    }

    pub(crate) fn all<T: SqliteRow>(&self, conn: &Connection) -> StoreResult<Vec<T>> {
        all(conn, &self.sql, params_from_iter(&self.values))
    }

    /// Runs it; the number of rows it changed.
    pub(crate) fn execute(&self, conn: &Connection) -> StoreResult<u64> {
        execute(conn, &self.sql, params_from_iter(&self.values))
    }
}
