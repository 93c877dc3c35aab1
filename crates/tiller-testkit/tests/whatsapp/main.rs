//! The fake WhatsApp Cloud API against a real HTTP client and a real webhook receiver.

mod inbound;
mod limits;
mod media;
mod sends;
mod statuses;
mod templates;

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tiller_testkit::{
    whatsapp::{Inbound, Limits, Retry},
    FakeWhatsApp, FakeWhatsAppConfig, Received, WebhookReceiver,
};

pub const SECRET: &str = "3f1c-app-secret";
pub const TOKEN: &str = "EAAGm0PX4ZCpsBA-test-token";
pub const PNID: &str = "106540352242922";
pub const WABA: &str = "102290129340398";
pub const DISPLAY: &str = "15550783881";
pub const USER: &str = "6281234567890";

/// A fake with a token, one number, quick statuses and no retries, posting to a receiver.
pub fn config() -> FakeWhatsAppConfig {
    let mut config = FakeWhatsAppConfig::new(SECRET);
    config.access_token = Some(TOKEN.into());
    config.status_delay = Duration::from_millis(2);
    config.webhook_retry = Retry::off();
    config
}

pub async fn start(config: FakeWhatsAppConfig) -> (FakeWhatsApp, WebhookReceiver) {
    let receiver = WebhookReceiver::start().await;
    let fake = FakeWhatsApp::start(config).await;
    fake.add_number(PNID, WABA, DISPLAY);
    fake.set_webhook_url(&receiver.url);
    (fake, receiver)
}

/// A fake whose limits are off, so tests of shapes need not open service windows.
pub async fn start_unlimited() -> (FakeWhatsApp, WebhookReceiver) {
    let mut c = config();
    c.limits = Limits::off();
    start(c).await
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// POSTs JSON to a Graph path with the bearer token.
pub async fn post(fake: &FakeWhatsApp, path: &str, body: &Value) -> (u16, Value) {
    let response = client()
        .post(format!("{}{path}", fake.base_url()))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .expect("post to the fake");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn get(fake: &FakeWhatsApp, path_or_url: &str) -> (u16, Value) {
    let url = if path_or_url.starts_with("http") {
        path_or_url.to_owned()
    } else {
        format!("{}{path_or_url}", fake.base_url())
    };
    let response = client()
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get from the fake");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn send(fake: &FakeWhatsApp, body: &Value) -> (u16, Value) {
    post(fake, &format!("/v21.0/{PNID}/messages"), body).await
}

pub fn text_to(to: &str, body: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": false, "body": body},
    })
}

/// Opens the user's service window by writing to the number.
pub async fn user_writes(fake: &FakeWhatsApp, user: &str) {
    fake.inject_inbound(Inbound::text(PNID, user, "hello"))
        .await
        .expect("inject");
}

/// The `X-Hub-Signature-256` a request should carry, computed here independently.
pub fn expected_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("hmac key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn assert_signed(r: &Received) {
    assert_eq!(
        r.header("X-Hub-Signature-256"),
        expected_signature(&r.body),
        "signature of {}",
        r.body_text()
    );
    assert_eq!(r.header("content-type"), "application/json");
}

pub fn json_of(r: &Received) -> Value {
    serde_json::from_slice(&r.body).expect("webhook body is JSON")
}

/// The statuses posted for one wamid, in arrival order.
pub fn statuses_of(receiver: &WebhookReceiver, wamid: &str) -> Vec<Value> {
    receiver
        .received()
        .iter()
        .map(json_of)
        .filter_map(|b| {
            let s = b["entry"][0]["changes"][0]["value"]["statuses"][0].clone();
            (s["id"] == wamid).then_some(s)
        })
        .collect()
}

pub fn status_names(statuses: &[Value]) -> Vec<String> {
    statuses
        .iter()
        .map(|s| s["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub fn wamid_of(answer: &Value) -> String {
    answer["messages"][0]["id"]
        .as_str()
        .expect("a wamid")
        .to_owned()
}

/// Checks the Graph error envelope and answers `error`.
pub fn graph_error(answer: &Value, code: u64) -> &Value {
    let e = &answer["error"];
    assert_eq!(e["code"], code, "{answer}");
    assert!(e["message"].is_string(), "{answer}");
    assert!(e["type"].is_string(), "{answer}");
    assert!(
        e["fbtrace_id"].as_str().is_some_and(|t| !t.is_empty()),
        "{answer}"
    );
    e
}
