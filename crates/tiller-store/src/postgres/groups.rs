//! The queue in front of a group writer: callers hand in a request and wait for its
//! answer, one task takes what has queued (up to a group's size) and writes it in one
//! transaction. Inbound messages (`inbound/grouped.rs`) and delivery outcomes
//! (`webhooks/finishing.rs`) share it; each decides what its groups carry.

use std::{collections::HashMap, future::Future, hash::Hash, sync::Arc};

use sqlx::{PgPool, Postgres, Transaction};
use tiller_core::{StoreError, StoreResult};
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::error::store_error;

/// A request waiting in the queue, with where its answer goes.
pub(crate) struct Queued<R, A> {
    pub request: R,
    pub reply: oneshot::Sender<StoreResult<A>>,
}

/// Dropping the last handle stops the writer.
pub(crate) struct Groups<R, A> {
    queue: mpsc::Sender<Queued<R, A>>,
    /// What the writer is, for the error once it has stopped.
    what: &'static str,
}

impl<R, A> std::fmt::Debug for Groups<R, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Groups({})", self.what)
    }
}

impl<R: Send + 'static, A: Send + 'static> Groups<R, A> {
    /// Starts the writer: `write` gets each group (at most `max` requests) and answers
    /// every request in it before the next group is taken.
    pub(crate) fn start<W, F>(what: &'static str, max: usize, pool: &PgPool, write: W) -> Self
    where
        W: Fn(PgPool, Vec<Queued<R, A>>) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let (queue, mut rx) = mpsc::channel(max * 32);
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut group = Vec::with_capacity(max);
            while rx.recv_many(&mut group, max).await > 0 {
                // Each group on a task of its own, so a panic in one stops only that group
                // (its callers hear that the writer stopped); the next group is written.
                let written = tokio::spawn(write(pool.clone(), std::mem::take(&mut group)));
                if let Err(e) = written.await {
                    tracing::error!(writer = what, error = %e, "a group's write panicked");
                }
            }
        });
        Self { queue, what }
    }

    /// As [`Groups::start`], but up to `in_flight` groups run at once, each on its own task:
    /// for reads, which keep no order. A group takes what queued while every slot was busy.
    pub(crate) fn start_concurrent<W, F>(
        what: &'static str,
        max: usize,
        in_flight: usize,
        pool: &PgPool,
        run: W,
    ) -> Self
    where
        W: Fn(PgPool, Vec<Queued<R, A>>) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let (queue, mut rx) = mpsc::channel(max * 32);
        let pool = pool.clone();
        let slots = Arc::new(Semaphore::new(in_flight));
        tokio::spawn(async move {
            let mut group = Vec::with_capacity(max);
            while let Ok(slot) = slots.clone().acquire_owned().await {
                if rx.recv_many(&mut group, max).await == 0 {
                    break;
                }
                let group = run(pool.clone(), std::mem::take(&mut group));
                tokio::spawn(async move {
                    group.await;
                    drop(slot);
                });
            }
        });
        Self { queue, what }
    }

    /// Queues the request; its answer once its group is written.
    pub(crate) async fn submit(&self, request: R) -> StoreResult<A> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable(format!("the {} stopped", self.what).into());
        let queued = Queued { request, reply };
        self.queue.send(queued).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Why a group did not commit.
pub(crate) enum GroupError {
    /// Before the commit: nothing was written, so each request may run alone.
    Rolled(StoreError),
    /// At the commit: whether it took is unknown, so each request gets the error (running
    /// it alone would report a first write as a retry).
    Commit(StoreError),
}

impl GroupError {
    /// Answers every request of a group whose commit failed with that error.
    pub(crate) fn answer_all<R, A>(e: &StoreError, group: Vec<Queued<R, A>>) {
        for q in group {
            let _ = q
                .reply
                .send(Err(StoreError::Unavailable(e.to_string().into())));
        }
    }
}

/// Runs each request a group left on its one-request path, `run`: one key's requests one
/// after another, in their order, and the keys concurrently, so none waits behind
/// another key's. Returns once every request is answered.
pub(crate) async fn run_alone<R, A, K, F, Fut>(
    pool: &PgPool,
    alone: Vec<Queued<R, A>>,
    key: impl Fn(&R) -> K,
    run: F,
) where
    R: Send + 'static,
    A: Send + 'static,
    K: Hash + Eq,
    F: Fn(PgPool, R) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = StoreResult<A>> + Send,
{
    let mut by_key: HashMap<K, Vec<Queued<R, A>>> = HashMap::new();
    for q in alone {
        by_key.entry(key(&q.request)).or_default().push(q);
    }
    let mut runs = tokio::task::JoinSet::new();
    for queue in by_key.into_values() {
        let (pool, run) = (pool.clone(), run.clone());
        runs.spawn(async move {
            for Queued { request, reply } in queue {
                let _ = reply.send(run(pool.clone(), request).await);
            }
        });
    }
    while runs.join_next().await.is_some() {}
}

/// How long a group waits for a row lock before it gives up and its requests run alone:
/// one row held elsewhere (a slow transaction, another node's group) must not stall every
/// request of the node.
const LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '1s'";

/// Opens a group's transaction, its lock waits bounded by [`LOCK_TIMEOUT`].
pub(crate) async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, GroupError> {
    let rolled = |e| GroupError::Rolled(store_error(e));
    let mut tx = pool.begin().await.map_err(rolled)?;
    sqlx::query(LOCK_TIMEOUT)
        .execute(&mut *tx)
        .await
        .map_err(rolled)?;
    Ok(tx)
}

/// Commits a group's transaction; a failure here is [`GroupError::Commit`].
pub(crate) async fn commit(tx: Transaction<'static, Postgres>) -> Result<(), GroupError> {
    tx.commit()
        .await
        .map_err(|e| GroupError::Commit(store_error(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A group whose write panics fails its own callers only; the writer goes on.
    #[tokio::test]
    async fn a_panicking_group_does_not_stop_the_writer() {
        // Never connects: the write below does not touch the database.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();
        let groups: Groups<u32, u32> =
            Groups::start("test writer", 1, &pool, |_, group| async move {
                for q in group {
                    assert!(q.request != 0, "a poisoned request");
                    let _ = q.reply.send(Ok(q.request * 2));
                }
            });
        let failed = groups.submit(0).await;
        assert!(
            matches!(failed, Err(StoreError::Unavailable(_))),
            "{failed:?}"
        );
        assert_eq!(groups.submit(21).await.unwrap(), 42);
    }
}
