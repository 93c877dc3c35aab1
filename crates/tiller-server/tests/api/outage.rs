//! Issue 13, item 4: the database goes away under a serving node (a proxy in front of
//! PostgreSQL closes every connection and refuses new ones, as a restarting server does).
//! Requests fail fast with a 503 in their surface's envelope, `/readyz` says not ready,
//! and when the database is back the node serves again by itself, with everything it
//! acknowledged before still there. PostgreSQL only (`TILLER_TEST_PG_URL`).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use reqwest::StatusCode;
use serde_json::json;
use tiller_store::testing::TestDatabase;
use tiller_testkit::{ManualClock, TcpProxy};

use crate::helpers::{TestApp, TestTenant};

async fn user_says(app: &TestApp, t: &TestTenant, msg_id: &str) -> crate::helpers::Reply {
    let body = json!({"call_id": "c1", "channel_id": "sicepat_whatsapp",
        "user": {"id": "123", "name": "nick"},
        "messages": [{"type": "text", "text": msg_id, "msg_id": msg_id}]});
    app.post_signed(t, "/api/v1/channel/chatbot/message", &body.to_string())
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fails_fast_and_the_node_recovers_by_itself() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let db = Arc::new(db);
    let mut url = url::Url::parse(&db.url).unwrap();
    let pg = (
        url.host_str().unwrap().to_owned(),
        url.port().unwrap_or(5432),
    );
    let target = tokio::net::lookup_host(pg).await.unwrap().next().unwrap();
    let proxy = TcpProxy::start(target).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    let proxied = url.to_string();
    let app = TestApp::spawn_on(db.clone(), ManualClock::new(), |cfg| {
        cfg.database.url = proxied;
    })
    .await;
    let t = app.tenant("Acme").await;
    let before = user_says(&app, &t, "before").await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);

    proxy.cut();
    let started = Instant::now();
    let during = user_says(&app, &t, "during").await;
    let took = started.elapsed();
    assert_eq!(
        during.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        during.text
    );
    assert_eq!(
        during.json()["code"],
        503,
        "the /api/v1 envelope: {}",
        during.text
    );
    assert!(took < Duration::from_secs(8), "failed after {took:?}");
    // Meta's webhooks too: a 503 it redelivers, not a 404 it gives up on.
    let webhook = app
        .send(
            reqwest::Method::POST,
            &format!("/webhooks/whatsapp/{}", "a".repeat(32)),
            &[],
            "{}",
        )
        .await;
    assert_eq!(
        webhook.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        webhook.text
    );
    let ready = app.get("/readyz").await;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        ready.text
    );

    proxy.restore();
    let back = Instant::now();
    while app.get("/readyz").await.status != StatusCode::OK {
        assert!(
            back.elapsed() < Duration::from_secs(20),
            "never ready again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = user_says(&app, &t, "after").await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.text);

    let list = app
        .post_signed(
            &t,
            "/api/v1/session/message/list",
            &json!({"call_id": "c1", "size": 100, "order": "asc"}).to_string(),
        )
        .await;
    let ids: Vec<String> = list.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["sender_type"] == "user")
        .map(|m| m["msg_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["before", "after"], "the acknowledged ones, once each");
}
