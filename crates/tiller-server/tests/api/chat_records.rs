//! nxlink `GET /saas/openapi/chat/records`, read from the messages the AIRUDDER APIs store.

use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};
use tiller_core::signing::nxlink::Algorithm;

use crate::helpers::{Reply, TestApp, TestTenant};

async fn records(app: &TestApp, t: &TestTenant, query: &str) -> Reply {
    let path = format!("/saas/openapi/chat/records?{query}");
    app.send_owned(
        Method::GET,
        &path,
        &app.nx_headers(t, "", Algorithm::Md5),
        "",
    )
    .await
}

fn base(t: &TestTenant) -> String {
    format!(
        "tenant_id={}&appkey={}&page_number=1&page_size=10",
        t.id.0,
        urlencode(&t.app_key)
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn seed(app: &TestApp, t: &TestTenant, call_id: &str, user: &str) {
    let body = json!({"call_id":call_id,"channel":"WhatsApp","channel_id":"155xxxx2740","user":{"id":user,"name":"空格键"},
        "messages":[{"type":"text","text":"你好"},{"type":"image","media":{"origin_url":"https://x.com/23/樱花.jpg?Expires=1","name":"樱花.jpg"}}]});
    let r = app
        .post_signed(t, "/api/v1/channel/whatsapp/message", &body.to_string())
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let send = json!({"call_id":call_id,"sender_type":"agent","messages":[{"type":"text","text":"hello"}]});
    let r = app
        .post_signed(t, "/api/v1/session/message/send", &send.to_string())
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

fn list(reply: &Reply) -> Vec<Value> {
    let v = reply.json();
    assert_eq!(v["code"], 0, "{v}");
    v["list"].as_array().unwrap().clone()
}

#[tokio::test]
async fn records_map_stored_messages_to_the_nxlink_shape() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    seed(&app, &t, "conv-1", "852xxxx4115").await;

    let reply = records(&app, &t, &base(&t)).await;
    let v = reply.json();
    assert_eq!(v["code"], 0);
    assert_eq!(v["message"], Value::Null);
    assert_eq!(v["total"], 4);
    assert_eq!(v["page_number"], 1);
    assert_eq!(v["page_size"], 10);
    assert!(v["traceId"].is_string());
    let items = list(&reply);
    // Newest first by default: agent text, user image, user text, start event.
    let agent = &items[0];
    assert_eq!(agent["chat_type"], 0);
    assert_eq!(agent["from"], "155xxxx2740");
    assert_eq!(agent["to"], "852xxxx4115");
    assert_eq!(agent["status"], "sent");
    assert_eq!(agent["content"], "hello");
    let image = &items[1];
    assert_eq!(image["chat_type"], 1);
    assert_eq!(image["message_type"], "image");
    assert_eq!(image["filename"], "樱花.jpg");
    assert_eq!(image["mime_type"], "image/jpeg");
    assert_eq!(image["media_link"], "https://x.com/23/樱花.jpg?Expires=1");
    assert_eq!(image["status"], "delivered");
    assert!(
        image.get("content").is_none(),
        "absent fields are left out: {image}"
    );
    let text = &items[2];
    assert_eq!(text["content"], "你好");
    assert_eq!(text["channel"], 2);
    assert_eq!(text["user_channel_id"], "155xxxx2740");
    assert_eq!(text["customer_id"], "852xxxx4115");
    assert_eq!(text["customer_name"], "空格键");
    assert_eq!(text["saas_conversation_id"], "conv-1");
    assert_eq!(text["tenant_id"], t.id.0.to_string());
    assert_eq!(text["message_type"], "text");
    assert!(text["id"].as_str().unwrap().parse::<i64>().is_ok());
    assert_eq!(text["message_id"].as_str().unwrap().len(), 32);
    let created = text["created_at"].as_str().unwrap();
    assert_eq!(created, "2025-04-15 06:41:00", "yyyy-MM-dd HH:mm:ss, UTC");
    assert_eq!(items[3]["chat_type"], 2);
}

#[tokio::test]
async fn filters_order_and_paging() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    seed(&app, &t, "conv-1", "u1").await;
    app.clock.advance(Duration::hours(1));
    seed(&app, &t, "conv-2", "u2").await;

    let by_conv = list(
        &records(
            &app,
            &t,
            &format!("{}&saas_conversation_id=conv-2", base(&t)),
        )
        .await,
    );
    assert_eq!(by_conv.len(), 4);
    assert!(by_conv
        .iter()
        .all(|r| r["saas_conversation_id"] == "conv-2"));
    let by_customer =
        list(&records(&app, &t, &format!("{}&customer_id=u1&channel=2", base(&t))).await);
    assert_eq!(by_customer.len(), 4);
    let window = format!(
        "{}&start_time=2025-04-15%2007:00:00&end_time=2025-04-15%2008:00:00",
        base(&t)
    );
    assert_eq!(
        list(&records(&app, &t, &window).await).len(),
        4,
        "only the second hour"
    );
    let asc = list(&records(&app, &t, &format!("{}&order_by=asc", base(&t))).await);
    assert_eq!(asc[0]["chat_type"], 2);
    assert_eq!(asc[0]["saas_conversation_id"], "conv-1");

    let page2 = records(
        &app,
        &t,
        &format!(
            "tenant_id={}&appkey={}&page_number=2&page_size=3",
            t.id.0,
            urlencode(&t.app_key)
        ),
    )
    .await;
    assert_eq!(page2.json()["total"], 8);
    assert_eq!(list(&page2).len(), 3);
    let page3 = records(
        &app,
        &t,
        &format!(
            "tenant_id={}&appkey={}&page_number=3&page_size=3",
            t.id.0,
            urlencode(&t.app_key)
        ),
    )
    .await;
    assert_eq!(list(&page3).len(), 2);
}

#[tokio::test]
async fn parameter_errors_use_the_documented_codes() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let other = app.tenant("Other").await;
    let key = urlencode(&t.app_key);
    let id = t.id.0;
    for (query, code) in [
        (format!("appkey={key}&page_number=1&page_size=10"), 21058),
        (format!("tenant_id={id}&page_number=1&page_size=10"), 21059),
        (
            format!("tenant_id={id}&appkey=nope&page_number=1&page_size=10"),
            22016,
        ),
        (
            format!(
                "tenant_id={}&appkey={key}&page_number=1&page_size=10",
                other.id.0
            ),
            1005,
        ),
        (
            format!("tenant_id={id}&appkey={key}&page_number=1&page_size=101"),
            22072,
        ),
        (
            format!("tenant_id={id}&appkey={key}&page_number=0&page_size=10"),
            22072,
        ),
        (format!("tenant_id={id}&appkey={key}&page_size=10"), 22072),
        (format!("{}&start_time=2025-01-01", base(&t)), 22072),
        (format!("{}&order_by=up", base(&t)), 22072),
        (format!("{}&channel=3", base(&t)), 22072),
    ] {
        let reply = records(&app, &t, &query).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json()["code"], code, "{query}: {}", reply.text);
    }
}

#[tokio::test]
async fn records_never_cross_tenants() {
    let app = TestApp::spawn().await;
    let a = app.tenant("Alpha").await;
    let b = app.tenant("Beta").await;
    seed(&app, &a, "shared-id", "u1").await;
    let reply = records(&app, &b, &base(&b)).await;
    assert_eq!(reply.json()["total"], 0);
    assert_eq!(list(&reply).len(), 0);
    // B may use the same call id without touching A's session.
    seed(&app, &b, "shared-id", "u9").await;
    let a_items = list(&records(&app, &a, &base(&a)).await);
    assert!(a_items.iter().all(|r| r["customer_id"] != "u9"));
    assert_eq!(a_items.len(), 4);
}

/// Seed 004's image record: a link with no extension, the type read off `filename`.
#[tokio::test]
async fn media_mime_type_falls_back_to_the_file_name_as_in_seed_004() {
    let has_image = |d: &Value| {
        d["list"]
            .as_array()
            .is_some_and(|l| l.iter().any(|r| r["message_type"] == "image"))
    };
    let seed = tiller_testkit::examples::find("seed-004", has_image);
    let want = seed["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["message_type"] == "image")
        .unwrap()
        .clone();
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let body = json!({"call_id":"conv-img","channel":"WhatsApp","channel_id":"155xxxx2740","user":{"id":"852xxxx4115"},
        "messages":[{"type":"image","media":{"origin_url": want["media_link"], "name": want["filename"]}}]});
    let r = app
        .post_signed(&t, "/api/v1/channel/whatsapp/message", &body.to_string())
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let items = list(&records(&app, &t, &base(&t)).await);
    let image = items.iter().find(|r| r["message_type"] == "image").unwrap();
    for field in ["message_type", "filename", "media_link", "mime_type"] {
        assert_eq!(image[field], want[field], "{field}");
    }
}

/// Item "credentials that survive a URL": new app keys are URL-safe, and an older key with
/// `+`, pasted into the query unencoded (so read as a space), still names its tenant.
#[tokio::test]
async fn app_keys_survive_an_unencoded_query_string() {
    let app = TestApp::spawn().await;
    let fresh = app.tenant("Fresh").await;
    assert!(
        fresh
            .app_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{}",
        fresh.app_key
    );
    let old = app
        .tenant_with_app_key("Old", Some("Mo012+QEsUFj5oFSj0LrEQ"))
        .await;
    for t in [&fresh, &old] {
        let raw = format!(
            "tenant_id={}&appkey={}&page_number=1&page_size=10",
            t.id.0, t.app_key
        );
        let v = records(&app, t, &raw).await.json();
        assert_eq!(v["code"], 0, "{}: {v}", t.app_key);
    }
    let wrong = format!(
        "tenant_id={}&appkey=Mo012-QEsUFj5oFSj0LrEQ&page_number=1&page_size=10",
        old.id.0
    );
    assert_eq!(records(&app, &old, &wrong).await.json()["code"], 22016);
}
