//! Cross-node wake-ups: what one node commits wakes the workers of every node on the same
//! PostgreSQL database within milliseconds, not at their next poll.
//!
//! The relay listens on the node's commit bus. Each local commit marks its kind of work
//! pending and wakes a sender task, which sends one `NOTIFY tiller_commits,
//! '<node>:<letters>'` for everything marked since its last one (a burst of commits costs
//! one notification, sent outside every request's transaction, at most one per [`GAP`]). A receiver task `LISTEN`s
//! and publishes each other node's letters on the bus as [`Committed::Elsewhere`]. A
//! notification is a hint: one lost (a connection drop, a node down) costs only latency,
//! since every worker's poll stays the safety net.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, Weak,
};

use sqlx::{
    postgres::{PgListener, PgPoolOptions},
    PgPool,
};
use tiller_core::{
    bus::{CommitBus, CommitListener, Committed, Work},
    ids::random_hex32,
};
use tokio::{sync::Notify, task::JoinHandle};

use crate::ConnectError;

/// The notification channel every node listens on.
pub(crate) const CHANNEL: &str = "tiller_commits";

/// The least time between two notifications of a node: under load, everything committed
/// meanwhile rides on the next one, so a busy node sends at most 500 a second (each takes
/// PostgreSQL's notification-queue lock at commit) and a notice waits 2 ms at most.
const GAP: std::time::Duration = std::time::Duration::from_millis(2);

/// What the bus listener and the sender task share.
#[derive(Default)]
struct Pending {
    deliveries: AtomicBool,
    turns: AtomicBool,
    credentials: AtomicBool,
    wake: Notify,
}

impl Pending {
    fn flag(&self, work: Work) -> &AtomicBool {
        match work {
            Work::Deliveries => &self.deliveries,
            Work::Turns => &self.turns,
            Work::Credentials => &self.credentials,
        }
    }

    /// The letters of the work marked since the last call, clearing the marks.
    fn take(&self) -> String {
        Work::ALL
            .into_iter()
            .filter(|w| self.flag(*w).swap(false, Ordering::AcqRel))
            .map(Work::letter)
            .collect()
    }
}

/// Relays this node's commits to the other nodes and theirs to this node's bus. The bus
/// keeps it alive; dropping it (with the bus) stops both tasks.
pub struct CommitRelay {
    pending: Arc<Pending>,
    tasks: Vec<JoinHandle<()>>,
}

impl CommitRelay {
    /// Connects (two connections: one listening, one sending), subscribes to `bus` and
    /// starts relaying.
    pub(crate) async fn start(url: &str, bus: &Arc<CommitBus>) -> Result<(), ConnectError> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .map_err(ConnectError::Connect)?;
        let mut listener = PgListener::connect(url)
            .await
            .map_err(ConnectError::Connect)?;
        listener
            .listen(CHANNEL)
            .await
            .map_err(ConnectError::Connect)?;
        let node = random_hex32();
        let pending = Arc::new(Pending::default());
        let tasks = vec![
            tokio::spawn(send(pending.clone(), pool, node.clone())),
            tokio::spawn(receive(listener, node, Arc::downgrade(bus))),
        ];
        bus.subscribe(Arc::new(Self { pending, tasks }));
        Ok(())
    }
}

impl Drop for CommitRelay {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl CommitListener for CommitRelay {
    fn on_commit(&self, committed: &Committed) {
        // Another node's work came from the database: passing it on would echo it.
        if committed.is_local() {
            self.pending
                .flag(committed.work())
                .store(true, Ordering::Release);
            self.pending.wake.notify_one();
        }
    }
}

async fn send(pending: Arc<Pending>, pool: PgPool, node: String) {
    loop {
        pending.wake.notified().await;
        let letters = pending.take();
        if letters.is_empty() {
            continue;
        }
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(format!("{node}:{letters}"))
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "commit relay: NOTIFY failed; other nodes poll");
        }
        tokio::time::sleep(GAP).await;
    }
}

async fn receive(mut listener: PgListener, node: String, bus: Weak<CommitBus>) {
    loop {
        let payload = match listener.recv().await {
            Ok(n) => n.payload().to_owned(),
            Err(e) => {
                // The listener reconnects on its next `recv`; notifications meanwhile are
                // lost, and the polls cover them.
                tracing::warn!(error = %e, "commit relay: LISTEN connection lost");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
        };
        let Some(bus) = bus.upgrade() else {
            return;
        };
        for work in elsewhere(&payload, &node) {
            bus.publish(&Committed::Elsewhere(work));
        }
    }
}

/// The sender of notifications from outside every node (the CLI changing a tenant): no
/// node's id, so every node takes them.
const OUTSIDE: &str = "-";

/// Tells every node, when `tx` commits, that a tenant's credentials changed.
pub(crate) async fn notify_credentials_changed(
    tx: &mut sqlx::PgConnection,
) -> tiller_core::StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{OUTSIDE}:{}", Work::Credentials.letter()))
        .execute(tx)
        .await
        .map_err(crate::error::store_error)?;
    Ok(())
}

/// The work another node's notification names; nothing for this node's own, or for a
/// payload of another shape.
fn elsewhere(payload: &str, this_node: &str) -> Vec<Work> {
    match payload.split_once(':') {
        Some((node, letters)) if node != this_node => {
            letters.chars().filter_map(Work::of_letter).collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_names_another_nodes_work_only() {
        assert_eq!(elsewhere("n2:dt", "n1"), [Work::Deliveries, Work::Turns]);
        assert_eq!(elsewhere("n2:t", "n1"), [Work::Turns]);
        assert!(elsewhere("n1:dt", "n1").is_empty(), "its own");
        assert!(elsewhere("garbage", "n1").is_empty());
        assert_eq!(elsewhere("n2:dxq", "n1"), [Work::Deliveries]);
        assert_eq!(elsewhere("-:c", "n1"), [Work::Credentials], "from the CLI");
    }

    #[test]
    fn marks_coalesce_until_taken() {
        let p = Pending::default();
        assert_eq!(p.take(), "");
        p.flag(Work::Turns).store(true, Ordering::Release);
        p.flag(Work::Deliveries).store(true, Ordering::Release);
        p.flag(Work::Turns).store(true, Ordering::Release);
        assert_eq!(p.take(), "dt");
        assert_eq!(p.take(), "");
    }
}
