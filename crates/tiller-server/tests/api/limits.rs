//! Documented maximums of list-valued request fields, enforced at the edge with the
//! surface's envelope; the API tests on oversized lists.

use serde_json::json;

use crate::helpers::TestApp;

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("m{i}")).collect()
}

fn huawei_body(call_id: &str) -> String {
    json!({
        "call_id": call_id,
        "channel_id": "ch-1",
        "user": {"id": "u-1", "name": "nick"},
        "messages": [{"type": "text", "text": "hello"}],
    })
    .to_string()
}

#[tokio::test]
async fn a_read_with_40_000_ids_is_a_400_in_the_envelope() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let opened = app
        .post_signed(&t, "/api/v1/channel/huawei/message", &huawei_body("r1"))
        .await;
    assert_eq!(opened.status, 200, "{}", opened.text);

    let body = json!({"call_id": "r1", "msg_ids": ids(40_000)}).to_string();
    let reply = app
        .post_signed(&t, "/api/v1/session/message/read", &body)
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let v = reply.json();
    assert_eq!(v["code"], 400);
    assert!(v["data"].is_null());
    assert_eq!(v["request_id"].as_str().unwrap().len(), 32);
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains("msg_ids holds more than 1000"),
        "{message}"
    );

    // The documented maximum itself is fine.
    let body = json!({"call_id": "r1", "msg_ids": ids(1000)}).to_string();
    let reply = app
        .post_signed(&t, "/api/v1/session/message/read", &body)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test]
async fn every_list_field_has_its_maximum() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let text = json!({"type": "text", "text": "hi"});
    let cases = [
        (
            "/api/v1/channel/huawei/message",
            json!({"call_id": "r2", "channel_id": "c", "user": {"id": "u"},
                   "messages": vec![text.clone(); 101]}),
            "messages holds more than 100",
        ),
        (
            "/api/v1/session/message/send",
            json!({"call_id": "r2", "sender_type": "agent", "messages": vec![text; 101]}),
            "messages holds more than 100",
        ),
        (
            "/api/v1/webhook/endpoint/create",
            json!({"url": "https://example.com/hook", "events": vec!["message.send"; 33]}),
            "events holds more than 32",
        ),
        (
            "/api/v1/webhook/endpoint/update",
            json!({"endpoint_id": "e", "events": vec!["message.send"; 33]}),
            "events holds more than 32",
        ),
    ];
    for (path, body, expected) in cases {
        let reply = app.post_signed(&t, path, &body.to_string()).await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.text);
        let message = reply.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(expected), "{path}: {message}");
    }
}
