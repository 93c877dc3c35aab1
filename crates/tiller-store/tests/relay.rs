#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly at the failing step"
)]

//! Cross-node wake-ups over PostgreSQL's `LISTEN/NOTIFY`: two nodes' buses on one database
//! (when `TILLER_TEST_PG_URL` names a server); SQLite relays nothing.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tiller_core::{
    bus::{CommitBus, CommitListener, Committed, Work},
    conversations::CallId,
    TenantId,
};
use tiller_store::{relay_commits, testing::TestDatabase};

#[derive(Default)]
struct Heard(Mutex<Vec<Committed>>);

impl CommitListener for Heard {
    fn on_commit(&self, committed: &Committed) {
        self.0.lock().unwrap().push(committed.clone());
    }
}

impl Heard {
    fn elsewhere(&self) -> Vec<Work> {
        let heard = self.0.lock().unwrap();
        heard
            .iter()
            .filter_map(|c| match c {
                Committed::Elsewhere(w) => Some(*w),
                _ => None,
            })
            .collect()
    }

    /// Waits up to 5 s for `n` notices from elsewhere; how long the first took.
    async fn wait_for(&self, n: usize) -> Duration {
        let start = Instant::now();
        while self.elsewhere().len() < n {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "heard {:?}",
                self.elsewhere()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        start.elapsed()
    }
}

async fn node(url: &str) -> (Arc<CommitBus>, Arc<Heard>) {
    let bus = CommitBus::new();
    let heard = Arc::new(Heard::default());
    bus.subscribe(heard.clone());
    assert!(relay_commits(url, &bus).await.unwrap(), "PostgreSQL relays");
    (bus, heard)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_nodes_commits_wake_the_others_within_milliseconds() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let (a, heard_a) = node(&db.url).await;
    let (b, heard_b) = node(&db.url).await;

    a.publish(&Committed::EventsEnqueued);
    let took = heard_b.wait_for(1).await;
    assert_eq!(heard_b.elsewhere(), [Work::Deliveries]);
    assert!(took < Duration::from_secs(1), "took {took:?}");

    b.publish(&Committed::TurnDue {
        tenant: TenantId(1),
        call_id: CallId::parse("c1").unwrap(),
    });
    heard_a.wait_for(1).await;
    assert_eq!(heard_a.elsewhere(), [Work::Turns]);

    // A node never hears its own commits back, and a relayed notice is not relayed again.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(heard_a.elsewhere(), [Work::Turns]);
    assert_eq!(heard_b.elsewhere(), [Work::Deliveries]);

    // A burst of commits is coalesced into few notifications, none lost at its end.
    for _ in 0..500 {
        a.publish(&Committed::EventsEnqueued);
    }
    heard_b.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let burst = heard_b.elsewhere().len() - 1;
    assert!(
        (1..=500).contains(&burst),
        "{burst} notices for 500 commits"
    );
}

#[tokio::test]
async fn sqlite_relays_nothing() {
    let db = TestDatabase::sqlite();
    let bus = CommitBus::new();
    assert!(!relay_commits(&db.url, &bus).await.unwrap());
}
