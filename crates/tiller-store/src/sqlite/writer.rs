//! The SQLite writer: one OS thread that owns a synchronous `rusqlite` connection and
//! commits queued writes in groups.
//!
//! sqlx runs each statement on its connection's worker thread, so every statement of a
//! transaction cost a round trip between tokio and that thread (BENCHMARKS.md, inbound).
//! Here a job runs all its statements on the writer thread, and the thread commits
//! whatever jobs are queued together:
//!
//! 1. it blocks for the first job, then takes the ones already waiting (up to [`BATCH`]);
//! 2. it opens one transaction (`BEGIN IMMEDIATE`) and runs each job inside its own
//!    `SAVEPOINT`: a job that fails is rolled back to it, so it never undoes another;
//! 3. it commits once, and only then answers every job. A write is acknowledged only
//!    once committed; when the commit fails, every job of the group gets the error.

use std::{
    any::Any,
    panic::{catch_unwind, AssertUnwindSafe},
    path::Path,
    sync::mpsc,
    time::Duration,
};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tiller_core::{StoreError, StoreResult};
use tokio::sync::oneshot;

use super::checkpointer::{Checkpointer, Moment, RESTART_FRAMES};
use crate::error::{sqlite_error, sqlite_error_ref, WriterGone};

/// Most jobs committed by one transaction.
const BATCH: usize = 64;
/// Statements kept prepared; the dynamic `IN (…)` lists make a few shapes per query.
const STATEMENT_CACHE: usize = 256;

/// A handle on the writer thread; clones share it. The thread ends once every handle is
/// dropped and the queue is empty.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Opens `path` (which the sqlx pools have already created and migrated) and starts
    /// the thread.
    pub(crate) fn open(path: &Path, busy_timeout: Duration) -> StoreResult<Self> {
        let conn = Connection::open(path).map_err(sqlite_error)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite_error)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sqlite_error)?;
        conn.busy_timeout(busy_timeout).map_err(sqlite_error)?;
        // Checkpoints run on their own thread (`checkpointer.rs`), not inside a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sqlite_error)?;
        // The savepoint of every job needs a statement journal; keep it off the disk
        // (SQLite would create and delete a temporary file for it).
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(sqlite_error)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let checkpointer = Checkpointer::start(path, RESTART_FRAMES)?;
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("tiller-sqlite-writer".into())
            .spawn(move || serve(conn, &queue, &checkpointer))
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(Self { jobs })
    }

    /// Runs `job` in the writer's transaction and answers once that has committed.
    pub(crate) async fn run<R, F>(&self, job: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<R> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Box::new(Task { job, reply }))
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// The thread's loop: one transaction per group of queued jobs.
fn serve(mut conn: Connection, queue: &mpsc::Receiver<Box<dyn Job>>, checkpointer: &Checkpointer) {
    loop {
        let first = match queue.try_recv() {
            Ok(job) => job,
            Err(mpsc::TryRecvError::Empty) => {
                // Nothing waits on the writer: the cheapest moment to let the WAL restart.
                checkpointer.restart_wal(&conn, Moment::Idle);
                match queue.recv() {
                    Ok(job) => job,
                    Err(_) => break,
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => break,
        };
        let mut batch = Vec::with_capacity(BATCH);
        batch.push(first);
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        checkpointer.restart_wal(&conn, Moment::Busy);
        commit_group(&mut conn, batch);
        checkpointer.committed();
    }
}

fn commit_group(conn: &mut Connection, batch: Vec<Box<dyn Job>>) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            for job in batch {
                job.fail(sqlite_error_ref(&e));
            }
            return;
        }
    };
    let mut done = Vec::with_capacity(batch.len());
    for job in batch {
        if let Err(e) = statement(&tx, "SAVEPOINT job") {
            job.fail(sqlite_error_ref(&e));
            continue;
        }
        // A panicking job drops its reply sender, so its caller sees the writer as gone.
        let outcome = catch_unwind(AssertUnwindSafe(|| job.run(&tx)));
        let keep = matches!(&outcome, Ok(d) if d.succeeded());
        let end = if keep {
            statement(&tx, "RELEASE job")
        } else {
            statement(&tx, "ROLLBACK TO job").and_then(|()| statement(&tx, "RELEASE job"))
        };
        if let Err(e) = end {
            // The transaction is in an unknown state: give up on the whole group.
            drop_outcome(outcome);
            for d in done {
                Done::send(d, Some(sqlite_error_ref(&e)));
            }
            return;
        }
        if let Ok(d) = outcome {
            done.push(d);
        }
    }
    match tx.commit() {
        Ok(()) => {
            for d in done {
                d.send(None);
            }
        }
        Err(e) => {
            for d in done {
                Done::send(d, Some(sqlite_error_ref(&e)));
            }
        }
    }
}

/// A statement without parameters or rows, kept prepared: the savepoints run for every job.
fn statement(tx: &Transaction<'_>, sql: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute([])?;
    Ok(())
}

fn drop_outcome(outcome: Result<Box<dyn Done>, Box<dyn Any + Send>>) {
    if let Ok(d) = outcome {
        d.send(Some(gone()));
    }
}

/// A queued job, type-erased.
trait Job: Send {
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Box<dyn Done>;
    fn fail(self: Box<Self>, e: StoreError);
}

/// A job that has run, holding its result until the group commits.
trait Done: Send {
    fn succeeded(&self) -> bool;
    /// Answers the caller: the job's own result, or `commit_failed`.
    fn send(self: Box<Self>, commit_failed: Option<StoreError>);
}

struct Task<F, R> {
    job: F,
    reply: oneshot::Sender<StoreResult<R>>,
}

struct Ran<R> {
    result: StoreResult<R>,
    reply: oneshot::Sender<StoreResult<R>>,
}

impl<F, R> Job for Task<F, R>
where
    R: Send + 'static,
    F: FnOnce(&Transaction<'_>) -> StoreResult<R> + Send + 'static,
{
    fn run(self: Box<Self>, tx: &Transaction<'_>) -> Box<dyn Done> {
        let result = (self.job)(tx);
        Box::new(Ran {
            result,
            reply: self.reply,
        })
    }

    fn fail(self: Box<Self>, e: StoreError) {
        // The caller may have given up waiting; nothing to tell then.
        let _ = self.reply.send(Err(e));
    }
}

impl<R: Send + 'static> Done for Ran<R> {
    fn succeeded(&self) -> bool {
        self.result.is_ok()
    }

    fn send(self: Box<Self>, commit_failed: Option<StoreError>) {
        let result = match commit_failed {
            Some(e) => Err(e),
            None => self.result,
        };
        let _ = self.reply.send(result);
    }
}

/// The caller of a job is gone or the thread is: its answer cannot arrive.
pub(crate) fn gone() -> StoreError {
    StoreError::Unavailable(Box::new(WriterGone))
}

#[cfg(test)]
mod tests {
    use rusqlite::params;
    use tiller_core::{Entity, StoreError, Unique};

    use super::Writer;
    use crate::sqlite::statements::{all, execute, found, one};

    fn writer() -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE tenants (id INTEGER PRIMARY KEY, company TEXT UNIQUE)")
            .unwrap();
        drop(conn);
        let writer = Writer::open(&path, std::time::Duration::from_secs(1)).unwrap();
        (dir, writer)
    }

    async fn insert(writer: &Writer, name: &'static str) -> Result<u64, StoreError> {
        writer
            .run(move |tx| {
                execute(
                    tx,
                    "INSERT INTO tenants (company) VALUES (?)",
                    params![name],
                )
            })
            .await
    }

    /// Jobs queued together share a commit, and one that fails undoes only itself.
    #[tokio::test]
    async fn a_failing_job_leaves_the_rest_of_its_group() {
        let (_dir, writer) = writer();
        insert(&writer, "a").await.unwrap();
        let (b, dup, c) = tokio::join!(
            insert(&writer, "b"),
            writer.run(|tx| {
                execute(tx, "INSERT INTO tenants (company) VALUES ('x')", [])?;
                execute(tx, "INSERT INTO tenants (company) VALUES ('a')", [])
            }),
            insert(&writer, "c"),
        );
        assert_eq!(b.unwrap(), 1);
        assert!(matches!(
            dup,
            Err(StoreError::Conflict(Unique::TenantCompany))
        ));
        assert_eq!(c.unwrap(), 1);
        let names: Vec<String> = writer
            .run(|tx| all(tx, "SELECT company FROM tenants ORDER BY id", []))
            .await
            .unwrap();
        assert_eq!(names, ["a", "b", "c"]);
    }

    /// The writer's own commits never checkpoint (`wal_autocheckpoint` is 0); the
    /// checkpointer thread must still move the committed pages into the database file.
    #[tokio::test]
    async fn committed_pages_reach_the_database_file() {
        let (dir, writer) = writer();
        let db = dir.path().join("w.db");
        let before = std::fs::metadata(&db).unwrap().len();
        for i in 0..200 {
            let name = format!("{i:04}{}", "x".repeat(4000));
            writer
                .run(move |tx| {
                    execute(
                        tx,
                        "INSERT INTO tenants (company) VALUES (?)",
                        params![name],
                    )
                })
                .await
                .unwrap();
        }
        // 200 rows of 4 kB: about 800 kB, first in the WAL, then in the file.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let size = std::fs::metadata(&db).unwrap().len();
            if size > before + 700_000 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "database file still {size} bytes"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// `found` names what it did not find; `one` promises a row, so none is a bug.
    #[tokio::test]
    async fn no_rows_is_not_found_of_the_entity_named() {
        let (_dir, writer) = writer();
        let sql = "SELECT company FROM tenants WHERE id = 42";
        let missing: Result<String, _> = writer.run(|tx| found(tx, sql, [], Entity::Tenant)).await;
        assert!(matches!(missing, Err(StoreError::NotFound(Entity::Tenant))));
        let promised: Result<String, _> = writer.run(|tx| one(tx, sql, [])).await;
        assert!(
            matches!(promised, Err(StoreError::Other(_))),
            "{promised:?}"
        );
    }
}
