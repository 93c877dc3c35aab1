//! Injected user messages: the real `messages` webhook, signed, from Rust and over HTTP.

use serde_json::json;
use tiller_testkit::whatsapp::{Inbound, InjectError};

use super::*;

#[tokio::test]
async fn inject_inbound_posts_the_real_messages_webhook_signed() {
    let (fake, receiver) = start(config()).await;
    let outcome = fake
        .inject_inbound(Inbound::text(PNID, &format!("+{USER}"), "hi there").named("Nick"))
        .await
        .expect("inject");
    assert!(outcome.wamid.starts_with("wamid."));
    assert_eq!(outcome.webhook_status, Some(200));

    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_signed(&got[0]);
    let body = json_of(&got[0]);
    assert_eq!(body["object"], "whatsapp_business_account");
    assert_eq!(body["entry"][0]["id"], WABA);
    let change = &body["entry"][0]["changes"][0];
    assert_eq!(change["field"], "messages");
    let value = &change["value"];
    assert_eq!(value["messaging_product"], "whatsapp");
    assert_eq!(
        value["metadata"],
        json!({"display_phone_number": DISPLAY, "phone_number_id": PNID})
    );
    assert_eq!(
        value["contacts"],
        json!([{"profile": {"name": "Nick"}, "wa_id": USER}])
    );
    let message = &value["messages"][0];
    assert_eq!(message["from"], USER);
    assert_eq!(message["id"], outcome.wamid.as_str());
    assert!(message["timestamp"]
        .as_str()
        .is_some_and(|t| t.parse::<i64>().is_ok()));
    assert_eq!(message["type"], "text");
    assert_eq!(message["text"], json!({"body": "hi there"}));
    assert!(value.get("statuses").is_none());

    // The window it opened lets a free-form reply through.
    let (_, answer) = send(&fake, &text_to(USER, "hello Nick")).await;
    fake.idle().await;
    assert_eq!(
        status_names(&statuses_of(&receiver, &wamid_of(&answer)))[0],
        "sent"
    );
}

#[tokio::test]
async fn the_http_route_injects_too_and_reports_the_webhook_status() {
    let (fake, receiver) = start(config()).await;
    let media = fake.add_media(b"voice".to_vec(), "audio/ogg");
    receiver.fail("audio", 1, 500, None);
    let response = client()
        .post(format!("{}/fake/inbound", fake.base_url()))
        .json(&json!({"phone_number_id": PNID, "from": USER,
                      "message": {"type": "audio", "audio": {"id": media, "voice": true},
                                  "context": {"id": "wamid.prev"}}}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().await.expect("json");
    assert!(answer["id"]
        .as_str()
        .is_some_and(|id| id.starts_with("wamid.")));
    assert_eq!(answer["webhook_status"], 500);

    let body = json_of(&receiver.received()[0]);
    let value = &body["entry"][0]["changes"][0]["value"];
    // No name given: the profile name is the number.
    assert_eq!(value["contacts"][0]["profile"]["name"], USER);
    let audio = &value["messages"][0]["audio"];
    assert_eq!(audio["id"], media.as_str());
    assert_eq!(audio["mime_type"], "audio/ogg");
    assert!(audio["sha256"].is_string());
    assert_eq!(value["messages"][0]["context"]["id"], "wamid.prev");

    let response = client()
        .post(format!("{}/fake/inbound", fake.base_url()))
        .json(&json!({"phone_number_id": "nope", "from": USER, "message": {"type": "text"}}))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 404);
}

#[tokio::test]
async fn bad_injections_are_refused() {
    let (fake, receiver) = start(config()).await;
    let unknown = fake.inject_inbound(Inbound::text("nope", USER, "hi")).await;
    assert_eq!(unknown, Err(InjectError::UnknownNumber("nope".into())));
    let bad_from = fake.inject_inbound(Inbound::text(PNID, "nick", "hi")).await;
    assert_eq!(bad_from, Err(InjectError::BadSender("nick".into())));
    let mut no_type = Inbound::text(PNID, USER, "hi");
    no_type.message = json!({"text": {"body": "hi"}});
    assert_eq!(
        fake.inject_inbound(no_type).await,
        Err(InjectError::BadMessage)
    );
    assert!(receiver.received().is_empty());
}

/// A subscription endpoint as integrators write it: echo `hub.challenge` for the right token.
async fn echo_challenge(
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> (axum::http::StatusCode, String) {
    let right = q.get("hub.mode").map(String::as_str) == Some("subscribe")
        && q.get("hub.verify_token").map(String::as_str) == Some("verify-me");
    match (right, q.get("hub.challenge")) {
        (true, Some(c)) => (axum::http::StatusCode::OK, c.clone()),
        _ => (axum::http::StatusCode::FORBIDDEN, String::new()),
    }
}

#[tokio::test]
async fn verify_webhook_checks_the_challenge_echo() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let app = axum::Router::new().route("/hook", axum::routing::get(echo_challenge));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let fake = FakeWhatsApp::start(config()).await;
    assert_eq!(fake.verify_webhook("verify-me").await, None, "no URL yet");
    fake.set_webhook_url(url);
    assert_eq!(fake.verify_webhook("verify-me").await, Some(true));
    assert_eq!(fake.verify_webhook("wrong").await, Some(false));
}
