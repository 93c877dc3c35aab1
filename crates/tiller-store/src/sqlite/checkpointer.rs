//! Moves WAL frames back into the database file on a thread of its own.
//!
//! SQLite's automatic checkpoint runs inside the `COMMIT` that crosses the threshold, on
//! the writer thread: it copies the frames and `fsync`s the database file while every
//! queued write waits (BENCHMARKS.md, session 3). The writer therefore turns it off, and
//! after each group commit nudges this thread, which runs a `PASSIVE` checkpoint on its
//! own connection. A passive checkpoint never blocks the writer or the readers; frames a
//! reader still needs wait for the next one.
//!
//! Copying frames is not enough to bound the WAL: SQLite starts the file over only when
//! a write transaction *begins* with every frame already copied and synced, and a busy
//! writer begins its next group right after the last commit, before this thread catches
//! up. So once the WAL holds [`RESTART_FRAMES`], the writer runs one passive checkpoint
//! itself ([`Checkpointer::restart_wal`]) the next time its queue is empty, or before its
//! next group if the WAL has grown to four times that. Little is left to copy by then,
//! but the checkpoint's two `fsync`s stall the writer (about 20 ms on the VM where this
//! was measured), hence the large threshold and the preference for idle moments.

use std::{
    path::Path,
    sync::{
        atomic::{AtomicI64, Ordering},
        mpsc::{self, SyncSender, TrySendError},
        Arc,
    },
    thread,
    time::Duration,
};

use rusqlite::Connection;
use tiller_core::{StoreError, StoreResult};

use crate::error::sqlite_error;

/// The least time between two checkpoints: enough for a busy writer to add a few
/// thousand frames, so that each checkpoint's `fsync` covers many commits.
const PAUSE: Duration = Duration::from_millis(50);

/// WAL frames (pages) after which the writer helps start the file over: 64 MiB of 4 KiB
/// pages. SQLite's own automatic checkpoint starts at 1,000.
pub(crate) const RESTART_FRAMES: i64 = 16_384;

/// When the writer offers to restart the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Moment {
    /// Its queue is empty.
    Idle,
    /// A group is about to begin.
    Busy,
}

#[derive(Debug)]
pub(crate) struct Checkpointer {
    nudge: SyncSender<()>,
    /// The WAL's length in frames at the thread's last checkpoint.
    wal_frames: Arc<AtomicI64>,
    restart_frames: i64,
}

impl Checkpointer {
    /// Starts the thread; the writer helps once the WAL holds `restart_frames`.
    pub(crate) fn start(path: &Path, restart_frames: i64) -> StoreResult<Self> {
        let conn = Connection::open(path).map_err(sqlite_error)?;
        let (nudge, nudges) = mpsc::sync_channel(1);
        let wal_frames = Arc::new(AtomicI64::new(0));
        let seen = wal_frames.clone();
        thread::Builder::new()
            .name("tiller-sqlite-checkpoint".into())
            .spawn(move || {
                // Ends when the writer, which holds the sender, is gone.
                while nudges.recv().is_ok() {
                    let mut pass = checkpoint(&conn);
                    if matches!(pass, Ok(frames) if frames >= restart_frames) {
                        // Copy what was written meanwhile too, so that little is left
                        // for the writer to copy while its queue waits.
                        pass = checkpoint(&conn);
                    }
                    match pass {
                        Ok(frames) => seen.store(frames, Ordering::Relaxed),
                        Err(e) => {
                            tracing::warn!(error = %e, "SQLite checkpoint failed; retrying after the next commit");
                        }
                    }
                    thread::sleep(PAUSE);
                }
            })
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(Self {
            nudge,
            wal_frames,
            restart_frames,
        })
    }

    /// Run by the writer between groups: when the WAL has grown long, copies what is
    /// left of it, so that the next group's first write starts the file over.
    pub(crate) fn restart_wal(&self, writer: &Connection, moment: Moment) {
        let limit = match moment {
            Moment::Idle => self.restart_frames,
            Moment::Busy => self.restart_frames * 4,
        };
        if self.wal_frames.load(Ordering::Relaxed) < limit {
            return;
        }
        // Busy (this thread is mid-checkpoint) is harmless: the count comes back after
        // that checkpoint if the WAL is still long.
        if checkpoint(writer).is_ok() {
            // Started over at the next write; the thread's next pass tells the new length.
            self.wal_frames.store(0, Ordering::Relaxed);
        }
    }

    /// Tells the thread that frames were committed; a nudge already waiting covers this one.
    pub(crate) fn committed(&self) {
        // Full: a nudge is waiting already. Disconnected: the thread is gone; checkpoints
        // then happen when the last connection closes.
        let _: Result<(), TrySendError<()>> = self.nudge.try_send(());
    }
}

/// A passive checkpoint; the number of frames in the WAL.
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rusqlite::{params, Connection};

    use super::Checkpointer;

    /// A writer that never pauses (the case under load) must still get its WAL started
    /// over; without the writer's help the file grows by every page written.
    #[test]
    fn a_busy_writer_keeps_its_wal_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
            .unwrap();
        let checkpointer = Checkpointer::start(&path, 64).unwrap();
        let body = "x".repeat(4000);
        // About 3,000 pages written in all, in back-to-back transactions, for at least
        // a few of the checkpointer's pauses.
        let started = std::time::Instant::now();
        let mut rows = 0;
        while rows < 3000 || started.elapsed() < Duration::from_millis(300) {
            checkpointer.restart_wal(&conn, super::Moment::Busy);
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            conn.execute("INSERT INTO t (body) VALUES (?)", params![body])
                .unwrap();
            conn.execute_batch("COMMIT").unwrap();
            checkpointer.committed();
            rows += 1;
        }
        let wal = std::fs::metadata(dir.path().join("c.db-wal"))
            .unwrap()
            .len();
        // Unbounded, the WAL holds every page written (about 37 MB here); bounded, the
        // threshold plus what the writer adds during one of the thread's pauses.
        assert!(wal < 12_000_000, "WAL is {wal} bytes after {rows} rows");
    }
}
