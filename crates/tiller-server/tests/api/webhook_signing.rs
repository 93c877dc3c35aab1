//! What a receiver checks: Standard Webhooks signatures that the public Python package
//! verifies, and AES-256-GCM payload encryption that round-trips.

use serde_json::{json, Value};
use tiller_core::webhooks::{encryption, signing};
use tiller_testkit::WebhookReceiver;

use crate::{helpers::TestApp, webhooks::hooked};

#[tokio::test]
async fn encrypted_payloads_round_trip() {
    let h = hooked("1m", true).await;
    let key = h.endpoint["encryption_key"].as_str().unwrap().to_owned();
    h.open("c1").await;
    h.agent_says("c1", "secret text").await;
    h.app.deliver().await;
    let r = &h.rx.received()[0];
    let envelope: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(envelope["algorithm"], "AES-256-GCM");
    assert!(!r.body_text().contains("secret text"));
    let plain: Value =
        serde_json::from_slice(&encryption::decrypt(&key, &envelope).unwrap()).unwrap();
    assert_eq!(plain["event"], "message.send");
    assert_eq!(plain["messages"][0]["content"]["text"], "secret text");
    // The signature covers what was sent: the encrypted body.
    assert!(signing::verify(
        h.secret(),
        r.header("webhook-id"),
        r.header("webhook-timestamp"),
        &r.body,
        r.header("webhook-signature")
    ));
}

#[tokio::test]
#[ignore = "needs python3 with the standardwebhooks package; .ci/run installs it and runs this"]
async fn signatures_verify_with_the_python_standardwebhooks_package() {
    // The package checks the timestamp against real time, so this app's clock starts now.
    #[expect(
        clippy::disallowed_methods,
        reason = "the Python verifier compares with real time"
    )]
    let now = chrono::Utc::now();
    let app = TestApp::spawn_at(now).await;
    let t = app.tenant("Acme").await;
    let rx = WebhookReceiver::start().await;
    let ep = app
        .post_signed(
            &t,
            "/api/v1/webhook/endpoint/create",
            &json!({"url": rx.url}).to_string(),
        )
        .await
        .json()["data"]
        .clone();
    let open = json!({"call_id":"c1","channel":"chatbot","channel_id":"x","user":{"id":"u"},"messages":[{"type":"text","text":"hi"}]});
    app.post_signed(&t, "/api/v1/channel/chatbot/message", &open.to_string())
        .await;
    app.post_signed(
        &t,
        "/api/v1/session/message/send",
        &json!({"call_id":"c1","sender_type":"agent","messages":[{"type":"text","text":"验证 ✓"}]})
            .to_string(),
    )
    .await;
    app.deliver().await;
    let r = &rx.received()[0];
    let input = json!({
        "secret": ep["secret"],
        "body": r.body_text(),
        "headers": {"webhook-id": r.header("webhook-id"), "webhook-timestamp": r.header("webhook-timestamp"), "webhook-signature": r.header("webhook-signature")},
    });
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
d = json.load(sys.stdin)
Webhook(d["secret"]).verify(d["body"], d["headers"])
try:
    Webhook(d["secret"]).verify(d["body"] + " ", d["headers"])
    print("tampered body verified")
except Exception:
    print("verified")
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        input.to_string().as_bytes(),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named"),
        "the standardwebhooks package is missing: pip install standardwebhooks (.ci/run installs it)"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "verified",
        "{stderr}"
    );
}
