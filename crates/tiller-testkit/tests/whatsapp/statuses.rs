//! The test hooks around status webhooks: other orders, duplicates, manual posting,
//! retries and deliberately bad signatures.

use std::collections::HashSet;

use serde_json::json;
use tiller_testkit::whatsapp::{Limits, Retry, Signature, StatusKind, StatusMode};

use super::*;

async fn one_send(mode: StatusMode) -> (FakeWhatsApp, WebhookReceiver, String) {
    let (fake, receiver) = start_unlimited().await;
    fake.set_status_mode(mode);
    let (_, answer) = send(&fake, &text_to(USER, "hi")).await;
    fake.idle().await;
    (fake, receiver, wamid_of(&answer))
}

#[tokio::test]
async fn reversed_mode_posts_read_first() {
    let (_fake, receiver, wamid) = one_send(StatusMode::Reversed).await;
    assert_eq!(
        status_names(&statuses_of(&receiver, &wamid)),
        ["read", "delivered", "sent"]
    );
}

#[tokio::test]
async fn duplicated_mode_posts_each_status_twice() {
    let (_fake, receiver, wamid) = one_send(StatusMode::Duplicated).await;
    assert_eq!(
        status_names(&statuses_of(&receiver, &wamid)),
        ["sent", "sent", "delivered", "delivered", "read", "read"]
    );
}

#[tokio::test]
async fn shuffled_mode_posts_the_same_three_statuses() {
    let (_fake, receiver, wamid) = one_send(StatusMode::Shuffled).await;
    let names: HashSet<String> = status_names(&statuses_of(&receiver, &wamid))
        .into_iter()
        .collect();
    assert_eq!(names.len(), 3);
    assert_eq!(receiver.received().len(), 3);
}

#[tokio::test]
async fn manual_mode_posts_nothing_and_hands_the_payloads_over() {
    let (fake, receiver, wamid) = one_send(StatusMode::Manual).await;
    assert!(receiver.received().is_empty());
    let payloads = fake.status_payloads(&wamid);
    let names: Vec<&str> = payloads
        .iter()
        .map(|p| {
            p["entry"][0]["changes"][0]["value"]["statuses"][0]["status"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(names, ["sent", "delivered", "read"]);
    // The test posts them in its own order, signed like the fake's own.
    for i in [2, 0, 1, 2] {
        let post = fake.post_signed(&payloads[i]).await.expect("a webhook URL");
        assert!(post.delivered());
    }
    receiver.received().iter().for_each(assert_signed);
    assert_eq!(
        status_names(&statuses_of(&receiver, &wamid)),
        ["read", "sent", "delivered", "read"]
    );
    assert!(fake.status_payloads("wamid.unknown").is_empty());
}

#[tokio::test]
async fn post_status_sends_one_status_now() {
    let mut c = config();
    c.limits = Limits::off();
    c.auto_read = false;
    let (fake, receiver) = start(c).await;
    let (_, answer) = send(&fake, &text_to(USER, "hi")).await;
    let wamid = wamid_of(&answer);
    fake.idle().await;
    let post = fake
        .post_status(&wamid, StatusKind::Read)
        .await
        .expect("posted");
    assert_eq!(post.status(), Some(200));
    assert_eq!(
        status_names(&statuses_of(&receiver, &wamid)),
        ["sent", "delivered", "read"]
    );
    assert!(fake
        .post_status("wamid.none", StatusKind::Read)
        .await
        .is_none());
}

#[tokio::test]
async fn a_refused_webhook_is_retried_and_logged() {
    let mut c = config();
    c.limits = Limits::off();
    c.webhook_retry = Retry {
        retries: 3,
        backoff: Duration::from_millis(5),
    };
    let (fake, receiver) = start(c).await;
    receiver.fail("\"delivered\"", 2, 503, None);
    let (_, answer) = send(&fake, &text_to(USER, "hi")).await;
    let wamid = wamid_of(&answer);
    fake.idle().await;
    let delivered: Vec<_> = fake
        .webhooks()
        .into_iter()
        .filter(|w| {
            w.json()
                .is_some_and(|b| b.to_string().contains("\"delivered\""))
        })
        .collect();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].attempts, vec![Ok(503), Ok(503), Ok(200)]);
    assert!(delivered[0].delivered());
    assert_eq!(
        status_names(&statuses_of(&receiver, &wamid)),
        ["sent", "delivered", "delivered", "delivered", "read"]
    );
}

#[tokio::test]
async fn without_retries_a_refused_webhook_is_posted_once() {
    let (fake, receiver) = start_unlimited().await;
    receiver.fail("\"sent\"", 5, 500, None);
    send(&fake, &text_to(USER, "hi")).await;
    fake.idle().await;
    let log = fake.webhooks();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].attempts, vec![Ok(500)]);
    assert!(!log[0].delivered());
}

#[tokio::test]
async fn raw_posts_can_carry_wrong_or_no_signatures() {
    let (fake, receiver) = start_unlimited().await;
    let body = br#"{"object":"whatsapp_business_account","entry":[]}"#.to_vec();
    fake.post_raw(body.clone(), Signature::Valid).await;
    fake.post_raw(body.clone(), Signature::Wrong).await;
    fake.post_raw(body.clone(), Signature::Missing).await;
    fake.post_raw(body.clone(), Signature::Header("sha256=00".into()))
        .await;
    let got = receiver.received();
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|r| r.body == body));
    assert_eq!(
        got[0].header("x-hub-signature-256"),
        expected_signature(&body)
    );
    let wrong = got[1].header("x-hub-signature-256");
    assert!(wrong.starts_with("sha256=") && wrong != expected_signature(&body));
    assert_eq!(got[2].header("x-hub-signature-256"), "");
    assert_eq!(got[3].header("x-hub-signature-256"), "sha256=00");
    let log = fake.webhooks();
    assert_eq!(log[2].signature, None);
    assert_eq!(
        log[1].json(),
        Some(json!({"object": "whatsapp_business_account", "entry": []}))
    );
}
