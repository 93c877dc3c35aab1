//! Webhooks end to end: a real receiver on a random port, the delivery worker stepped on
//! a manual clock.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tiller_core::{signing::airudder, webhooks::signing, Clock as _};
use tiller_testkit::{Received, WebhookReceiver};

use crate::helpers::{TestApp, TestTenant};

/// An app with one tenant and one endpoint (for `message.send`) on a live receiver.
pub(crate) struct Hooked {
    pub(crate) app: TestApp,
    t: TestTenant,
    pub(crate) rx: WebhookReceiver,
    pub(crate) endpoint: Value,
}

pub(crate) async fn hooked(schedule: &str, encrypt: bool) -> Hooked {
    let schedule = schedule.to_owned();
    hooked_with(encrypt, move |cfg| cfg.webhooks.retry_schedule = schedule).await
}

pub(crate) async fn hooked_with(
    encrypt: bool,
    tweak: impl FnOnce(&mut tiller_server::Config),
) -> Hooked {
    let app = TestApp::spawn_with(tweak).await;
    let t = app.tenant("Acme").await;
    let rx = WebhookReceiver::start().await;
    // Only the event under test: its delivery outcome also emits `message.status`,
    // which the robots tests cover.
    let body = json!({"url": rx.url, "encrypt": encrypt, "events": ["message.send"]});
    let reply = app
        .post_signed(&t, "/api/v1/webhook/endpoint/create", &body.to_string())
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let endpoint = reply.json()["data"].clone();
    Hooked {
        app,
        t,
        rx,
        endpoint,
    }
}

impl Hooked {
    pub(crate) async fn open(&self, call_id: &str) {
        let body = json!({"call_id":call_id,"channel":"chatbot","channel_id":"sicepat_whatsapp","user":{"id":"123","name":"nick"},
            "messages":[{"type":"text","text":"hi"}]});
        let r = self
            .app
            .post_signed(
                &self.t,
                "/api/v1/channel/chatbot/message",
                &body.to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }

    pub(crate) async fn agent_says(&self, call_id: &str, text: &str) -> String {
        let body = json!({"call_id":call_id,"sender_type":"agent","messages":[{"type":"text","text":text}]});
        let r = self
            .app
            .post_signed(&self.t, "/api/v1/session/message/send", &body.to_string())
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()["data"]["msg_id"].as_str().unwrap().to_owned()
    }

    async fn status_of(&self, call_id: &str, msg_id: &str) -> String {
        let body = json!({"call_id":call_id,"size":100});
        let list = self
            .app
            .post_signed(&self.t, "/api/v1/session/message/list", &body.to_string())
            .await
            .json();
        let m = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["msg_id"] == msg_id)
            .unwrap()
            .clone();
        m["status"].as_str().unwrap().to_owned()
    }

    pub(crate) fn secret(&self) -> &str {
        self.endpoint["secret"].as_str().unwrap()
    }

    /// Replays one event through the API; it must reset exactly one delivery.
    pub(crate) async fn replay(&self, event_id: &str) {
        let replayed = self
            .post(
                "/api/v1/webhook/event/replay",
                json!({"event_id": event_id}),
            )
            .await;
        assert_eq!(replayed["replayed"], 1);
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Value {
        let r = self.app.post_signed(&self.t, path, &body.to_string()).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        r.json()["data"].clone()
    }
}

fn texts(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["messages"][0]["content"]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn agent_messages_reach_the_endpoint_signed_as_message_send() {
    let h = hooked("1m,1m,1m,1m,1m", false).await;
    assert!(h.secret().starts_with("whsec_"));
    assert_eq!(h.endpoint["endpoint_id"].as_str().unwrap().len(), 32);
    h.open("c1").await;
    let msg_id = h.agent_says("c1", "hello from the agent").await;
    assert_eq!(h.app.deliver().await, 1);

    let got = h.rx.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["event"], "message.send");
    assert_eq!(body["call_id"], "c1");
    assert_eq!(body["company"], "acme");
    assert_eq!(body["channel"], "chatbot");
    assert_eq!(body["channel_id"], "sicepat_whatsapp");
    assert_eq!(body["user"], json!({"id":"123","name":"nick"}));
    assert_eq!(body["messages"][0]["msg_id"], msg_id.as_str());
    assert_eq!(body["messages"][0]["sender_type"], "agent");
    assert_eq!(
        body["messages"][0]["content"],
        json!({"type":"text","text":"hello from the agent"})
    );
    assert!(body["messages"][0]["timestamp"].is_i64());

    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("user-agent"), "Airudder");
    assert_eq!(
        r.header("x-airudder-sign"),
        airudder::sign(h.secret(), None, &r.body)
    );
    assert_eq!(r.header("webhook-id").len(), 32);
    assert_eq!(
        r.header("webhook-timestamp"),
        h.app.clock.now().timestamp().to_string()
    );
    assert!(signing::verify(
        h.secret(),
        r.header("webhook-id"),
        r.header("webhook-timestamp"),
        &r.body,
        r.header("webhook-signature")
    ));

    // Delivered: the agent message's status follows.
    assert_eq!(h.status_of("c1", &msg_id).await, "delivery");
    assert_eq!(h.app.deliver().await, 0, "nothing is sent twice");

    let metrics = h.app.get("/metrics").await.text;
    assert!(
        metrics.contains(r#"tiller_outbox_attempts_total{outcome="delivered"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("tiller_outbox_pending 0"), "{metrics}");
    assert!(
        metrics.contains("tiller_outbox_enqueue_to_first_attempt_seconds_count 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn retries_follow_the_schedule_then_the_event_dies() {
    let h = hooked("1s,1s,2s", false).await;
    h.rx.fail("doomed", 10, 503, None);
    h.open("c1").await;
    let msg_id = h.agent_says("c1", "doomed").await;

    assert_eq!(h.app.deliver().await, 1, "first attempt at once");
    assert_eq!(h.app.deliver().await, 0, "not before the first delay");
    h.app.clock.advance(Duration::seconds(1));
    assert_eq!(h.app.deliver().await, 1, "retry 1 after 1 s");
    h.app.clock.advance(Duration::seconds(1));
    assert_eq!(h.app.deliver().await, 1, "retry 2 after 1 s more");
    h.app.clock.advance(Duration::seconds(1));
    assert_eq!(h.app.deliver().await, 0, "retry 3 waits 2 s");
    h.app.clock.advance(Duration::seconds(1));
    assert_eq!(h.app.deliver().await, 1, "retry 3");
    h.app.clock.advance(Duration::seconds(3600));
    assert_eq!(h.app.deliver().await, 0, "dead after the last retry");
    assert_eq!(h.rx.received().len(), 4);

    let events = h
        .post(
            "/api/v1/webhook/event/list",
            json!({"size":10,"status":"dead"}),
        )
        .await;
    assert_eq!(events.as_array().unwrap().len(), 1);
    let event_id = events[0]["event_id"].as_str().unwrap().to_owned();
    assert_eq!(events[0]["deliveries"][0]["status"], "dead");
    let attempts = h
        .post(
            "/api/v1/webhook/event/attempts",
            json!({"event_id": event_id}),
        )
        .await;
    let outcomes: Vec<&str> = attempts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["retry", "retry", "retry", "dead"]);
    assert_eq!(attempts[0]["status_code"], 503);
    assert_eq!(attempts[0]["response_excerpt"], "failing on purpose");
    assert_eq!(h.status_of("c1", &msg_id).await, "failed");

    // Replay: the same event id, a fresh schedule.
    h.replay(&event_id).await;
    assert_eq!(h.app.deliver().await, 1);
    let got = h.rx.received();
    assert_eq!(got.len(), 5);
    assert!(got.iter().all(|r| r.header("webhook-id") == event_id));
}

#[tokio::test]
async fn a_503_then_200_carries_the_same_id_with_a_fresh_signature() {
    let h = hooked("1s,1s,2s", false).await;
    h.rx.fail("flaky", 1, 503, None);
    h.open("c1").await;
    h.agent_says("c1", "flaky").await;
    h.app.deliver().await;
    h.app.clock.advance(Duration::seconds(1));
    h.app.deliver().await;
    let got = h.rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
    assert_ne!(
        got[0].header("webhook-timestamp"),
        got[1].header("webhook-timestamp")
    );
    assert_ne!(
        got[0].header("webhook-signature"),
        got[1].header("webhook-signature")
    );
    for r in &got {
        assert!(signing::verify(
            h.secret(),
            r.header("webhook-id"),
            r.header("webhook-timestamp"),
            &r.body,
            r.header("webhook-signature")
        ));
    }
}

#[tokio::test]
async fn retry_after_is_honoured_within_bounds() {
    let h = hooked("10s", false).await;
    h.rx.fail("slow", 1, 429, Some(15));
    h.open("c1").await;
    h.agent_says("c1", "slow").await;
    h.app.deliver().await;
    h.app.clock.advance(Duration::seconds(14));
    assert_eq!(h.app.deliver().await, 0, "Retry-After 15 s is honoured");
    h.app.clock.advance(Duration::seconds(1));
    assert_eq!(h.app.deliver().await, 1);
}

#[tokio::test]
async fn one_sessions_events_arrive_in_order_while_others_proceed() {
    let h = hooked("1s,1s,2s", false).await;
    h.rx.fail("a-first", 2, 503, None);
    h.open("a").await;
    h.open("b").await;
    h.agent_says("a", "a-first").await;
    h.agent_says("a", "a-second").await;
    h.agent_says("b", "b-only").await;

    assert_eq!(
        h.app.deliver().await,
        2,
        "a-first and b-only; a-second waits"
    );
    let mut first_pass = texts(&h.rx.received());
    first_pass.sort();
    assert_eq!(first_pass, ["a-first", "b-only"]);
    h.app.clock.advance(Duration::seconds(1));
    assert_eq!(h.app.deliver().await, 1, "only the retry of a-first");
    h.app.clock.advance(Duration::seconds(1));
    assert_eq!(h.app.deliver().await, 1, "a-first delivered");
    assert_eq!(h.app.deliver().await, 1, "then a-second");
    let a_texts: Vec<String> = texts(&h.rx.received())
        .into_iter()
        .filter(|t| t.starts_with("a-"))
        .collect();
    assert_eq!(a_texts, ["a-first", "a-first", "a-first", "a-second"]);
    assert_eq!(
        texts(&h.rx.received())
            .iter()
            .filter(|t| *t == "b-only")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_disabled_endpoint_receives_nothing_until_enabled() {
    let h = hooked("1m", false).await;
    let id = h.endpoint["endpoint_id"].as_str().unwrap().to_owned();
    let off = h
        .post(
            "/api/v1/webhook/endpoint/update",
            json!({"endpoint_id": id, "enabled": false}),
        )
        .await;
    assert_eq!(off["enabled"], false);
    h.open("c1").await;
    h.agent_says("c1", "while off").await;
    assert_eq!(h.app.deliver().await, 0);
    assert!(h.rx.received().is_empty());
    h.post(
        "/api/v1/webhook/endpoint/update",
        json!({"endpoint_id": id, "enabled": true}),
    )
    .await;
    assert_eq!(
        h.app.deliver().await,
        1,
        "held deliveries go out once re-enabled"
    );
}

#[tokio::test]
async fn an_endpoint_failing_for_too_long_is_disabled_with_an_event() {
    let app = TestApp::spawn_with(|cfg| {
        cfg.webhooks.retry_schedule = "1m,1m,1m".into();
        cfg.webhooks.disable_after = "90s".into();
    })
    .await;
    let t = app.tenant("Acme").await;
    let (bad, watcher) = (
        WebhookReceiver::start().await,
        WebhookReceiver::start().await,
    );
    bad.fail("", 100, 500, None);
    let create = |url: &str, events: Value| json!({"url": url, "events": events}).to_string();
    app.post_signed(
        &t,
        "/api/v1/webhook/endpoint/create",
        &create(&bad.url, json!(["message.send"])),
    )
    .await;
    app.post_signed(
        &t,
        "/api/v1/webhook/endpoint/create",
        &create(&watcher.url, json!(["endpoint.disabled"])),
    )
    .await;
    let open = json!({"call_id":"c1","channel":"chatbot","channel_id":"x","user":{"id":"u"},"messages":[{"type":"text","text":"hi"}]});
    app.post_signed(&t, "/api/v1/channel/chatbot/message", &open.to_string())
        .await;
    let send =
        json!({"call_id":"c1","sender_type":"agent","messages":[{"type":"text","text":"x"}]});
    app.post_signed(&t, "/api/v1/session/message/send", &send.to_string())
        .await;

    app.deliver().await;
    app.clock.advance(Duration::seconds(60));
    app.deliver().await;
    assert_eq!(
        app.outbox.disable_failing_endpoints().await.unwrap(),
        0,
        "60 s of failure is not enough"
    );
    app.clock.advance(Duration::seconds(31));
    assert_eq!(app.outbox.disable_failing_endpoints().await.unwrap(), 1);
    let list = app
        .post_signed(&t, "/api/v1/webhook/endpoint/list", "{}")
        .await
        .json()["data"]
        .clone();
    let bad_ep = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["url"] == bad.url.as_str())
        .unwrap()
        .clone();
    assert_eq!(bad_ep["enabled"], false);
    assert!(bad_ep["disabled_reason"]
        .as_str()
        .unwrap()
        .contains("failing"));
    app.deliver().await;
    let seen = watcher.received();
    assert_eq!(
        seen.len(),
        1,
        "the operational event reached the other endpoint"
    );
    let ev: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(ev["event"], "endpoint.disabled");
    assert_eq!(ev["endpoint_id"], bad_ep["endpoint_id"]);
}

#[tokio::test]
async fn unknown_event_types_are_refused_unless_forced() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let create = |events: Value, force: bool| {
        json!({"url": "http://127.0.0.1:9/x", "events": events, "force": force}).to_string()
    };
    let typo = app
        .post_signed(
            &t,
            "/api/v1/webhook/endpoint/create",
            &create(json!(["message.sent"]), false),
        )
        .await;
    assert_eq!(typo.status, 400);
    let message = typo.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("message.sent") && message.contains("message.send"),
        "{message}"
    );
    let known = app
        .post_signed(
            &t,
            "/api/v1/webhook/endpoint/create",
            &create(json!(["message.send", "session.end"]), false),
        )
        .await;
    assert_eq!(known.status, 200, "{}", known.text);
    let forced = app
        .post_signed(
            &t,
            "/api/v1/webhook/endpoint/create",
            &create(json!(["custom.thing"]), true),
        )
        .await;
    assert_eq!(forced.status, 200, "{}", forced.text);
    // An update is held to the same rule.
    let id = known.json()["data"]["endpoint_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let update = app
        .post_signed(
            &t,
            "/api/v1/webhook/endpoint/update",
            &json!({"endpoint_id": id, "events": ["nope"]}).to_string(),
        )
        .await;
    assert_eq!(update.status, 400, "{}", update.text);
}

#[tokio::test]
async fn loopback_targets_are_refused_unless_allow_listed() {
    let app = TestApp::spawn_with(|cfg| cfg.outbound.allowed_networks = String::new()).await;
    let t = app.tenant("Acme").await;
    let rx = WebhookReceiver::start().await;
    // Refused when added, with what to do about it; nothing is stored…
    for url in [
        rx.url.clone(),
        "http://169.254.169.254/latest".to_owned(),
        "http://localhost:9/x".to_owned(),
    ] {
        let refused = app
            .post_signed(
                &t,
                "/api/v1/webhook/endpoint/create",
                &json!({ "url": url }).to_string(),
            )
            .await;
        assert_eq!(refused.status, 400, "{url}: {}", refused.text);
        let v = refused.json();
        assert_eq!(v["code"], 400);
        let message = v["message"].as_str().unwrap();
        assert!(message.contains("outbound.allowed_networks"), "{message}");
    }
    let listed = app
        .post_signed(&t, "/api/v1/webhook/endpoint/list", "{}")
        .await
        .json();
    assert_eq!(listed["data"], json!([]));
    // …unless forced, and then each delivery is still refused by the guard.
    let forced = app
        .post_signed(
            &t,
            "/api/v1/webhook/endpoint/create",
            &json!({"url": rx.url, "force": true}).to_string(),
        )
        .await;
    assert_eq!(forced.status, 200, "{}", forced.text);
    let open = json!({"call_id":"c1","channel":"chatbot","channel_id":"x","user":{"id":"u"},"messages":[{"type":"text","text":"hi"}]});
    app.post_signed(&t, "/api/v1/channel/chatbot/message", &open.to_string())
        .await;
    app.post_signed(
        &t,
        "/api/v1/session/message/send",
        &json!({"call_id":"c1","sender_type":"agent","messages":[{"type":"text","text":"x"}]})
            .to_string(),
    )
    .await;
    assert_eq!(app.deliver().await, 1);
    assert!(
        rx.received().is_empty(),
        "nothing reached the loopback receiver"
    );
    let events = app
        .post_signed(&t, "/api/v1/webhook/event/list", r#"{"size":10}"#)
        .await
        .json()["data"]
        .clone();
    let event_id = events[0]["event_id"].as_str().unwrap();
    let attempts = app
        .post_signed(
            &t,
            "/api/v1/webhook/event/attempts",
            &json!({"event_id": event_id}).to_string(),
        )
        .await
        .json()["data"]
        .clone();
    assert!(
        attempts[0]["error"].as_str().unwrap().contains("may reach"),
        "{attempts}"
    );
}

#[tokio::test]
async fn endpoints_need_a_web_url_and_management_is_tenant_scoped() {
    let h = hooked("1m", false).await;
    for bad in [
        json!({"url":"ftp://x/y"}),
        json!({"url":"not a url"}),
        json!({"url":"https://x/y","events":[]}),
    ] {
        let r = h
            .app
            .post_signed(&h.t, "/api/v1/webhook/endpoint/create", &bad.to_string())
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let other = h.app.tenant("Other").await;
    let listed = h
        .app
        .post_signed(&other, "/api/v1/webhook/endpoint/list", "{}")
        .await
        .json();
    assert_eq!(listed["data"], json!([]));
    let id = h.endpoint["endpoint_id"].as_str().unwrap();
    let r = h
        .app
        .post_signed(
            &other,
            "/api/v1/webhook/endpoint/update",
            &json!({"endpoint_id": id, "enabled": false}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    h.open("c1").await;
    h.agent_says("c1", "x").await;
    h.app.deliver().await;
    let theirs = h
        .app
        .post_signed(&other, "/api/v1/webhook/event/list", r#"{"size":10}"#)
        .await
        .json();
    assert_eq!(theirs["data"], json!([]));
}
