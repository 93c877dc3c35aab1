//! The delivery worker running on its own, as in production: writes that make deliveries
//! due wake it, so nothing waits for its poll interval.

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
