//! Meta's webhooks in: a `FakeWhatsApp` posts to Tiller's `webhook_path`, and what it
//! posts shows up in the AIRUDDER message list.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tiller_core::{
    channels::{whatsapp_call_id, Channel, ChannelId, ChannelKind, WhatsAppChannel},
    Clock as _, Secret,
};
use tiller_testkit::whatsapp::{
    FakeWhatsApp, FakeWhatsAppConfig, Inbound, Retry, Signature, WebhookPost,
};

use crate::helpers::{TestApp, TestTenant};

const APP_SECRET: &str = "meta-app-secret";
const VERIFY_TOKEN: &str = "verify-me";
const NUMBER_ID: &str = "106540352242922";
const WABA_ID: &str = "102290129340398";
const DISPLAY: &str = "+1 555 078 3881";
const USER: &str = "16505551234";

struct Setup {
    app: TestApp,
    tenant: TestTenant,
    channel: Channel,
    meta: FakeWhatsApp,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Acme").await;
    let meta = FakeWhatsApp::start(FakeWhatsAppConfig {
        // A refused post is the answer under test, not something to wait out.
        webhook_retry: Retry::off(),
        ..FakeWhatsAppConfig::new(APP_SECRET)
    })
    .await;
    meta.add_number(NUMBER_ID, WABA_ID, DISPLAY);
    let channel = Channel {
        id: ChannelId::generate(),
        tenant_id: tenant.id,
        kind: ChannelKind::WhatsApp(WhatsAppChannel {
            phone_number_id: NUMBER_ID.into(),
            waba_id: WABA_ID.into(),
            display_number: DISPLAY.into(),
            access_token: Secret::new("token"),
            app_secret: Secret::new(APP_SECRET),
            verify_token: Secret::new(VERIFY_TOKEN),
            graph_url: Some(meta.base_url().to_owned()),
            graph_version: None,
        }),
        created_at: app.clock.now(),
    };
    app.store.create_channel(&channel).await.unwrap();
    meta.set_webhook_url(app.url(&channel.webhook_path().unwrap()));
    Setup {
        app,
        tenant,
        channel,
        meta,
    }
}

impl Setup {
    fn call_id(&self) -> String {
        whatsapp_call_id(&self.channel.id, USER)
            .unwrap()
            .to_string()
    }

    /// The user's messages in the session, oldest first, system events left out.
    async fn user_messages(&self) -> Vec<Value> {
        let body = json!({"call_id": self.call_id(), "size": 100, "order": "asc"}).to_string();
        let r = self
            .app
            .post_signed(&self.tenant, "/api/v1/session/message/list", &body)
            .await;
        if r.status == StatusCode::NOT_FOUND {
            return Vec::new();
        }
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let data = r.json()["data"].as_array().unwrap().clone();
        data.into_iter()
            .filter(|m| m["sender_type"] == "user")
            .collect()
    }

    async fn inject(&self, message: Value) -> String {
        let out = self
            .meta
            .inject_inbound(Inbound {
                phone_number_id: NUMBER_ID.into(),
                from: USER.into(),
                name: Some("Ana".into()),
                message,
            })
            .await
            .unwrap();
        assert_eq!(out.webhook_status, Some(200));
        out.wamid
    }

    async fn post(&self, body: &[u8], signature: Signature) -> Option<u16> {
        let post: WebhookPost = self.meta.post_raw(body.to_vec(), signature).await.unwrap();
        post.status()
    }

    fn text_body(wamid: &str) -> Vec<u8> {
        json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [{
            "field": "messages",
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": NUMBER_ID},
                "contacts": [{"profile": {"name": "Ana"}, "wa_id": USER}],
                "messages": [{"from": USER, "id": wamid, "timestamp": "1700000000",
                    "type": "text", "text": {"body": "hello"},
                    "context": {"from": "15550783881", "id": "wamid.before-tiller"}}]
            }
        }]}]})
        .to_string()
        .into_bytes()
    }
}

#[tokio::test]
async fn the_subscription_handshake_echoes_the_challenge_for_the_right_token_only() {
    let s = setup().await;
    assert_eq!(s.meta.verify_webhook(VERIFY_TOKEN).await, Some(true));
    assert_eq!(s.meta.verify_webhook("nope").await, Some(false));
    let path = s.channel.webhook_path().unwrap();
    let ok = s
        .app
        .get(&format!(
            "{path}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42"
        ))
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.text, "42");
    assert!(ok.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let wrong = s
        .app
        .get(&format!(
            "{path}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=42"
        ))
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(!wrong.text.contains("42"));
    let unknown = s
        .app
        .get(&format!(
            "/webhooks/whatsapp/{}?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=42",
            ChannelId::generate()
        ))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn each_kind_of_message_lands_on_the_users_session() {
    let s = setup().await;
    let text = s
        .inject(json!({"type": "text", "text": {"body": "hi"}}))
        .await;
    let media_id = s.meta.add_media(b"png bytes".to_vec(), "image/png");
    let image = s
        .inject(json!({"type": "image", "image": {"id": media_id, "caption": "look"}}))
        .await;
    let button = s
        .inject(
            json!({"type": "interactive", "interactive": {"type": "button_reply",
            "button_reply": {"id": "yes", "title": "Yes"}}}),
        )
        .await;
    let quote = s
        .inject(json!({"type": "text", "text": {"body": "about that"},
            "context": {"from": USER, "id": text}}))
        .await;
    let reaction = s
        .inject(json!({"type": "reaction", "reaction": {"message_id": image, "emoji": "👍"}}))
        .await;

    let ms = s.user_messages().await;
    let ids: Vec<&str> = ms.iter().map(|m| m["msg_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [&text, &image, &button, &quote, &reaction]);
    assert_eq!(ms[0]["content"], json!({"type": "text", "text": "hi"}));
    assert_eq!(ms[1]["content"]["type"], "image");
    assert_eq!(ms[1]["content"]["media"]["id"], media_id);
    assert_eq!(ms[1]["content"]["media"]["origin_url"], "");
    assert_eq!(ms[1]["content"]["text"], "look");
    assert_eq!(ms[2]["content"]["type"], "interactive");
    assert_eq!(ms[3]["content"]["text"], "about that");
    assert_eq!(ms[3]["reply"]["msg_id"], text.as_str(), "{}", ms[3]);
    assert_eq!(
        ms[3]["reply"]["text"], "hi",
        "the list flattens a reply: {}",
        ms[3]
    );
    assert_eq!(ms[4]["content"]["reaction"]["emoji"], "👍");
    assert_eq!(ms[4]["reply"]["msg_id"], image.as_str());

    let session = s
        .app
        .post_signed(
            &s.tenant,
            "/api/v1/session/list",
            &json!({"user_id": USER, "size": 10}).to_string(),
        )
        .await
        .json();
    let session = &session["data"][0];
    assert_eq!(session["call_id"], s.call_id());
    assert_eq!(session["channel"], "WhatsApp");
    assert_eq!(session["channel_id"], DISPLAY);
    assert_eq!(session["user"]["name"], "Ana");
}

#[tokio::test]
async fn a_redelivered_webhook_is_stored_once() {
    let s = setup().await;
    let body = Setup::text_body("wamid.redelivered");
    assert_eq!(s.post(&body, Signature::Valid).await, Some(200));
    assert_eq!(s.post(&body, Signature::Valid).await, Some(200));
    let ms = s.user_messages().await;
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0]["msg_id"], "wamid.redelivered");
    assert_eq!(ms[0]["timestamp"], 1_700_000_000);
    // The quoted message is not Tiller's: the reply can only name it.
    assert_eq!(ms[0]["reply"]["msg_id"], "wamid.before-tiller", "{}", ms[0]);
}

#[tokio::test]
async fn unsigned_wrongly_signed_and_malformed_bodies_are_refused_and_store_nothing() {
    let s = setup().await;
    let body = Setup::text_body("wamid.refused");
    assert_eq!(s.post(&body, Signature::Wrong).await, Some(401));
    assert_eq!(s.post(&body, Signature::Missing).await, Some(401));
    assert_eq!(s.post(b"{not json", Signature::Valid).await, Some(400));
    let other = json!({"object": "page", "entry": []}).to_string();
    assert_eq!(s.post(other.as_bytes(), Signature::Valid).await, Some(400));
    assert!(s.user_messages().await.is_empty());

    let unknown = s
        .app
        .send(
            reqwest::Method::POST,
            &format!("/webhooks/whatsapp/{}", ChannelId::generate()),
            &[],
            std::str::from_utf8(&body).unwrap(),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_disabled_tenants_messages_are_refused_until_it_is_enabled() {
    let s = setup().await;
    let body = Setup::text_body("wamid.while-disabled");
    s.app.state.tenants.disable(s.tenant.id).await.unwrap();
    assert_eq!(s.post(&body, Signature::Valid).await, Some(403));
    s.app.state.tenants.enable(s.tenant.id).await.unwrap();
    assert!(s.user_messages().await.is_empty());
    // Meta's redelivery, once the tenant is back.
    assert_eq!(s.post(&body, Signature::Valid).await, Some(200));
    assert_eq!(s.user_messages().await.len(), 1);
}

#[tokio::test]
async fn a_closed_session_reopens_on_the_same_call_id() {
    let s = setup().await;
    let first = s
        .inject(json!({"type": "text", "text": {"body": "one"}}))
        .await;
    let end = json!({"call_id": s.call_id()}).to_string();
    let r = s
        .app
        .post_signed(&s.tenant, "/api/v1/session/end", &end)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let second = s
        .inject(json!({"type": "text", "text": {"body": "two"}}))
        .await;
    let ids: Vec<String> = s
        .user_messages()
        .await
        .iter()
        .map(|m| m["msg_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [first, second]);
}

#[tokio::test]
async fn a_batch_is_split_by_user_in_order_and_other_numbers_are_skipped() {
    let s = setup().await;
    let msg = |from: &str, id: &str, text: &str| {
        json!({"from": from, "id": id, "timestamp": "1700000000",
            "type": "text", "text": {"body": text}})
    };
    let change = |number: &str, messages: Value, statuses: Value| {
        json!({"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": number},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": USER}],
            "messages": messages, "statuses": statuses}})
    };
    let other_user = "447700900123";
    let status = json!([{"id": "wamid.ours", "status": "delivered", "timestamp": "1700000001",
        "recipient_id": USER}]);
    // Quotes a message of the same webhook, not stored yet when it is read.
    let mut quoting = msg(USER, "wamid.a2", "two");
    quoting["context"] = json!({"from": USER, "id": "wamid.a1"});
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": WABA_ID, "changes": [
        change("999999999999999", json!([msg(USER, "wamid.elsewhere", "not ours")]), json!([])),
        change(NUMBER_ID, json!([msg(USER, "wamid.a1", "one"), msg(other_user, "wamid.b1", "hey"),
            quoting]), status),
    ]}]});
    assert_eq!(
        s.post(body.to_string().as_bytes(), Signature::Valid).await,
        Some(200)
    );
    let ms = s.user_messages().await;
    let ids: Vec<&str> = ms.iter().map(|m| m["msg_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["wamid.a1", "wamid.a2"]);
    assert_eq!(ms[1]["reply"]["text"], "one", "{}", ms[1]);
    let other = json!({"call_id": whatsapp_call_id(&s.channel.id, other_user).unwrap().to_string(),
        "size": 10})
    .to_string();
    let r = s
        .app
        .post_signed(&s.tenant, "/api/v1/session/message/list", &other)
        .await;
    let listed = r.json()["data"].to_string();
    assert!(listed.contains("wamid.b1"), "{listed}");
    assert!(!listed.contains("wamid.elsewhere"));
}
