//! SQLite readers: a few `rusqlite` connections kept open, each read run on the thread
//! that asks for it.
//!
//! In WAL mode a reader never waits for the writer, and the reads of the hot paths (a
//! page of messages, a robot's unanswered messages, a tenant by key) walk an index for at
//! most a page of rows: tens of microseconds. Handing them to a driver's worker thread
//! and back cost more than the read itself (BENCHMARKS.md, list), so [`Readers::read`]
//! runs them in place. Reads whose cost grows with the data (chat records' counts, the
//! event log, endpoint health, filtered session lists) go through [`Readers::scan`], on
//! tokio's blocking pool, so they never hold up the async workers.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use rusqlite::Connection;
use tiller_core::{StoreError, StoreResult};

use crate::error::sqlite_error;

/// Statements kept prepared per connection.
const STATEMENT_CACHE: usize = 64;
/// How much of the database file readers map into memory: pages are then read from the
/// OS page cache without a `pread` each (SQLite's "memory-mapped I/O"). Address space,
/// not memory: the kernel shares the pages between connections and drops them as needed.
const MMAP_BYTES: i64 = 1 << 30;

#[derive(Debug, Clone)]
pub(crate) struct Readers {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    busy_timeout: Duration,
    /// Connections not in use; at most `keep` of them are kept.
    idle: Mutex<Vec<Connection>>,
    keep: usize,
}

impl Readers {
    /// Opens one connection at once, so a path that cannot be read fails here.
    pub(crate) fn open(path: &Path, busy_timeout: Duration, keep: usize) -> StoreResult<Self> {
        let inner = Inner {
            path: path.to_owned(),
            busy_timeout,
            idle: Mutex::new(Vec::new()),
            keep: keep.max(1),
        };
        let first = inner.connect()?;
        inner.give_back(first);
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Runs `read` on this thread with a connection of the pool.
    pub(crate) fn read<R>(
        &self,
        read: impl FnOnce(&Connection) -> StoreResult<R>,
    ) -> StoreResult<R> {
        let conn = self.inner.take()?;
        let result = read(&conn);
        self.inner.give_back(conn);
        result
    }

    /// Runs `read` on the blocking pool, inside one read transaction, so that its
    /// statements see the same snapshot.
    pub(crate) async fn scan<R, F>(&self, read: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<R> + Send + 'static,
    {
        let readers = self.clone();
        tokio::task::spawn_blocking(move || {
            readers.read(|conn| {
                let tx = conn.unchecked_transaction().map_err(sqlite_error)?;
                let result = read(&tx)?;
                tx.commit().map_err(sqlite_error)?;
                Ok(result)
            })
        })
        .await
        .map_err(|e| StoreError::Other(Box::new(e)))?
    }
}

impl Inner {
    fn take(&self) -> StoreResult<Connection> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => self.connect(),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.keep {
            idle.push(conn);
        }
    }

    fn connect(&self) -> StoreResult<Connection> {
        let conn = Connection::open(&self.path).map_err(sqlite_error)?;
        conn.busy_timeout(self.busy_timeout).map_err(sqlite_error)?;
        // A reader that tried to write would be a bug: make it fail loudly.
        conn.pragma_update(None, "query_only", "ON")
            .map_err(sqlite_error)?;
        // A pragma that reports its new value: read it as a row.
        conn.query_row(&format!("PRAGMA mmap_size = {MMAP_BYTES}"), [], |_| Ok(()))
            .map_err(sqlite_error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }
}
