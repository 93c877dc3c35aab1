//! Moves WAL frames back into the database file on a thread of its own.
//!
//! SQLite's automatic checkpoint runs inside the `COMMIT` that crosses the threshold, on
//! the writer thread: it copies the frames and `fsync`s the database file while every
//! queued write waits (BENCHMARKS.md, inbound). The writer therefore turns it off, and
//! after each group commit nudges this thread, which runs a `PASSIVE` checkpoint on its
//! own connection. A passive checkpoint never blocks the writer or the readers; frames a
//! reader still needs wait for the next one.

use std::{
    path::Path,
    sync::mpsc::{self, SyncSender, TrySendError},
    thread,
    time::Duration,
};

use rusqlite::Connection;
use tiller_core::{StoreError, StoreResult};

use crate::error::sqlite_error;

/// The least time between two checkpoints: enough for a busy writer to add a few
/// thousand frames, so that each checkpoint's `fsync` covers many commits.
const PAUSE: Duration = Duration::from_millis(50);

#[derive(Debug)]
pub(crate) struct Checkpointer {
    nudge: SyncSender<()>,
}

impl Checkpointer {
    pub(crate) fn start(path: &Path) -> StoreResult<Self> {
        let conn = Connection::open(path).map_err(sqlite_error)?;
        let (nudge, nudges) = mpsc::sync_channel(1);
        thread::Builder::new()
            .name("tiller-sqlite-checkpoint".into())
            .spawn(move || {
                // Ends when the writer, which holds the sender, is gone.
                while nudges.recv().is_ok() {
                    let checkpoint =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    if let Err(e) = checkpoint {
                        tracing::warn!(error = %e, "SQLite checkpoint failed; retrying on the next commit");
                    }
                    thread::sleep(PAUSE);
                }
            })
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        Ok(Self { nudge })
    }

    /// Tells the thread that frames were committed; a nudge already waiting covers this one.
    pub(crate) fn committed(&self) {
        // Full: a nudge is waiting already. Disconnected: the thread is gone; checkpoints
        // then happen when the last connection closes.
        let _: Result<(), TrySendError<()>> = self.nudge.try_send(());
    }
}
