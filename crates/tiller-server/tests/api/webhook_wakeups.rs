//! The delivery worker running on its own, as in production: writes that make deliveries
//! due wake it, so nothing waits for its poll interval; on PostgreSQL, writes on one node
//! wake the workers of the others.

use serde_json::json;

use crate::webhooks::hooked_with;

/// Long enough that a delivery seen within the test's wait came from a wake-up.
const POLL_MS: u64 = 60_000;

async fn arrivals(h: &crate::webhooks::Hooked, n: usize) -> bool {
    for _ in 0..100 {
        if h.rx.received().len() >= n {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn an_enqueue_and_a_replay_wake_the_worker() {
    let h = hooked_with(false, |cfg| {
        cfg.webhooks.worker = true;
        cfg.webhooks.poll_interval_ms = POLL_MS;
        // The retry would come an hour later on the manual clock, which never moves here.
        cfg.webhooks.retry_schedule = "1h".into();
    })
    .await;
    h.rx.fail("wake", 1, 503, None);
    h.open("c1").await;
    // Let the worker's first claim (of nothing) pass, so that it sleeps on its poll.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    h.agent_says("c1", "wake up").await;
    assert!(arrivals(&h, 1).await, "the agent's message woke the worker");

    let events = h
        .post(
            "/api/v1/webhook/event/list",
            json!({"size": 10, "status": "pending"}),
        )
        .await;
    let event_id = events[0]["event_id"].as_str().unwrap().to_owned();
    h.replay(&event_id).await;
    assert!(arrivals(&h, 2).await, "the replay woke the worker");
    let got = h.rx.received();
    assert_eq!(got[1].header("webhook-id"), event_id);
}

/// Whether this run's database is PostgreSQL, which several nodes can share.
fn shared_database(app: &crate::helpers::TestApp) -> bool {
    app.state.readiness.backend() == "postgres"
}

/// Issue 13, item 2: an event enqueued on one node is delivered by another node's worker
/// within milliseconds (PostgreSQL's `LISTEN/NOTIFY`), not at that worker's poll.
#[tokio::test]
async fn an_enqueue_on_one_node_wakes_another_nodes_worker() {
    let h = hooked_with(false, |_| {}).await;
    if !shared_database(&h.app) {
        return;
    }
    // This node delivers nothing (the suite's default); the other one polls once a minute.
    let other = h
        .app
        .spawn_beside(|cfg| {
            cfg.webhooks.worker = true;
            cfg.webhooks.poll_interval_ms = POLL_MS;
        })
        .await;
    h.open("c1").await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let started = std::time::Instant::now();
    h.agent_says("c1", "to any node").await;
    assert!(arrivals(&h, 1).await, "the other node's worker woke");
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
    assert_eq!(h.rx.received().len(), 1, "delivered once");
    drop(other);
}

/// The same for robot turns: a turn made due on a node that runs none is run by another
/// node's robot worker at once.
#[tokio::test]
async fn a_turn_due_on_one_node_wakes_another_nodes_robot_worker() {
    use crate::robots::{Bot, LOGISTICS};
    let b = Bot::start(LOGISTICS).await;
    if !shared_database(&b.app) {
        return;
    }
    let other = b
        .app
        .spawn_beside(|cfg| {
            cfg.robots.worker = true;
            cfg.robots.poll_interval_ms = POLL_MS;
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    b.text("c1", "hi").await;
    let mut answered = false;
    for _ in 0..60 {
        if !b.robot_said("c1").await.is_empty() {
            answered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(answered, "the other node ran the turn");
    assert_eq!(b.app.turns().await, 0, "nothing was left for this node");
    drop(other);
}
