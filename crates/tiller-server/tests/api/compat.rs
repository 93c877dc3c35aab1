//! Issue 11: what a client written from the AIRUDDER and nxlink documents alone sees. Each
//! test compares Tiller's answer with the seed pages' own examples, field by field.

use reqwest::Method;
use serde_json::{json, Value};
use tiller_core::signing::nxlink::Algorithm;
use tiller_testkit::examples;

use crate::{
    helpers::{TestApp, TestTenant},
    robots::{Bot, LOGISTICS},
};

/// `path` signed for `t`; asserts the `/api/v1` envelope's success and returns `data`.
pub(crate) async fn ok(app: &TestApp, t: &TestTenant, path: &str, body: Value) -> Value {
    let r = app.post_signed(t, path, &body.to_string()).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    let v = r.json();
    assert_eq!(v["code"], 200, "{path}: {v}");
    v["data"].clone()
}

/// The nxlink chat records of `t` (newest first), with `extra` query parameters.
pub(crate) async fn records(app: &TestApp, t: &TestTenant, extra: &str) -> Vec<Value> {
    let path = format!(
        "/saas/openapi/chat/records?tenant_id={}&appkey={}&page_number=1&page_size=100{extra}",
        t.id.0, t.app_key
    );
    let r = app
        .send_owned(
            Method::GET,
            &path,
            &app.nx_headers(t, "", Algorithm::Md5),
            "",
        )
        .await;
    let v = r.json();
    assert_eq!(v["code"], 0, "{v}");
    v["list"].as_array().unwrap().clone()
}

/// A user's first message on a WhatsApp session `call_id`.
async fn open(app: &TestApp, t: &TestTenant, call_id: &str, extra: Value) {
    let mut body = json!({"call_id": call_id, "channel": "WhatsApp", "channel_id": "155xxxx2740",
        "user": {"id": "852xxxx4115", "name": "空格键"}, "messages": [{"type": "text", "text": "你好"}]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    ok(app, t, "/api/v1/channel/whatsapp/message", body).await;
}

/// The seed 004 record that satisfies `pick`.
fn seed_004_record(pick: impl Fn(&Value) -> bool) -> Value {
    examples::seed("004")
        .iter()
        .filter_map(|d| d["list"].as_array().cloned())
        .flatten()
        .find(|r| pick(r))
        .expect("seed 004 has such a record")
}

/// Item 4: a media link without an extension takes its MIME type from the file name.
#[tokio::test]
async fn media_mime_type_comes_from_the_file_name_as_in_seed_004() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let want = seed_004_record(|r| r.get("mime_type").is_some());
    open(&app, &t, "c1", json!({})).await;
    let media = json!({"origin_url": want["media_link"], "name": want["filename"]});
    ok(&app, &t, "/api/v1/session/message/send",
        json!({"call_id": "c1", "sender_type": "agent", "messages": [{"type": "image", "media": media}]}))
    .await;
    let got = records(&app, &t, "").await.remove(0);
    for field in ["message_type", "media_link", "filename", "mime_type"] {
        assert_eq!(got[field], want[field], "{field}: {got}");
    }
}

/// Item 6: printed credentials survive a URL; keys issued before (standard base64, with
/// `+`) still work when pasted unencoded into nxlink's `appkey`.
#[tokio::test]
async fn app_keys_survive_a_query_string_old_and_new() {
    use tiller_core::{tenant::NewTenant, Clock as _};
    let app = TestApp::spawn().await;
    let fresh = app.tenant("Fresh").await;
    assert!(fresh
        .app_key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    assert!(records(&app, &fresh, "").await.is_empty());

    // A tenant created before the change, with the key.
    let (mut new, issued) = NewTenant::generate("Old").unwrap();
    new.app_key = "Mo012+QEsUFj5oFSj0LrEQ".into();
    let old = app
        .store
        .insert_tenant(&new, app.clock.now())
        .await
        .unwrap();
    let old = TestTenant {
        id: old.id,
        company: old.company,
        app_key: new.app_key.clone(),
        app_secret: issued.app_secret.expose().to_owned(),
        sign_key: issued.sign_key,
        sign_secret: issued.sign_secret.expose().to_owned(),
        access_key: issued.access_key,
        access_secret: issued.access_secret.expose().to_owned(),
    };
    assert!(
        records(&app, &old, "").await.is_empty(),
        "`+` read as a space still matches"
    );
    let wrong = TestTenant {
        app_key: "Mo012-QEsUFj5oFSj0LrEQ".into(),
        ..old.clone()
    };
    let path = format!(
        "/saas/openapi/chat/records?tenant_id={}&appkey={}&page_number=1&page_size=10",
        wrong.id.0, wrong.app_key
    );
    let r = app
        .send_owned(
            Method::GET,
            &path,
            &app.nx_headers(&wrong, "", Algorithm::Md5),
            "",
        )
        .await;
    assert_eq!(r.json()["code"], 22016, "{}", r.text);
    // The token API still takes the old key as it is.
    assert!(!app.token(&old).await.is_empty());
}

/// The fields of seed 002's `session.end` that only a workflow run has.
const WORKFLOW_ONLY: &[&str] = &[
    "workflow_id",
    "workflow_name",
    "nodetask_id",
    "nodetask_name",
    "waba_task_id",
    "wfdetail_uuid",
    "callee",
];

/// Seed 002's `session.end` example.
fn seed_002_session_end() -> Value {
    examples::find("seed-002", |d| {
        d.get("session_end_reason").is_some() && d.get("variables").is_some()
    })
}

/// Item 7: `session.end`'s `timestamp` is when the notification is sent, and `variables`
/// are those the session was started with.
#[tokio::test]
async fn session_end_carries_start_variables_and_its_send_time() {
    use chrono::Duration;
    use tiller_core::Clock as _;
    let b = Bot::start(LOGISTICS).await;
    let want = seed_002_session_end();
    let body = json!({"call_id": "c1", "channel_id": "6289xxxxxxxx9070", "user": {"id": "123"},
        "variables": want["variables"], "messages": [{"type": "text", "text": "hi"}]});
    b.post("/api/v1/channel/chatbot/message", body.clone())
        .await;
    // A later message's variables do not replace the session's.
    let mut later = body;
    later["variables"] = json!({"name": "someone else"});
    b.post("/api/v1/channel/chatbot/message", later).await;
    b.post("/api/v1/session/end", json!({"call_id": "c1"}))
        .await;
    let ended_at = b.app.clock.now();
    b.app.clock.advance(Duration::seconds(42));
    let end = b.events("session.end").await.remove(0);
    assert_eq!(end["variables"], want["variables"]);
    assert_eq!(
        end["timestamp"],
        b.app.clock.now().timestamp(),
        "the send time"
    );
    assert_ne!(end["timestamp"], ended_at.timestamp());
    assert_eq!(
        end["session_end_time"],
        ended_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    // Every field of the seed but the workflow's own (no workflow ran this session).
    for field in want.as_object().unwrap().keys() {
        if !WORKFLOW_ONLY.contains(&field.as_str()) {
            assert!(end.get(field).is_some(), "{field} missing: {end}");
        }
    }
}

/// Item 1: a pick comes in in the inbound form and is listed the way seed 000 (list APIs)
/// and seed 002 (`session.end`) list it, pointing at the robot message it answers; nxlink
/// records carry that message's id as `context`.
#[tokio::test]
async fn picks_are_listed_with_a_reply_to_the_prompt() {
    let b = Bot::start(LOGISTICS).await;
    b.text("c1", "hi").await;
    b.app.turns().await;
    let menu = b.robot_said("c1").await.pop().unwrap();
    let row = crate::robots::option_id(&menu, "大件快递");
    b.user(
        "c1",
        json!({"type": "interactive", "interactive": {"type": "list_reply",
        "list_reply": {"id": row, "title": "大件快递"}}}),
    )
    .await;
    b.app.turns().await;
    assert_eq!(
        crate::robots::text_of(&b.robot_said("c1").await[0]),
        "请问您的性别是？",
        "the robot still reads the pick by its id"
    );
    for path in ["/api/v1/session/message/list", "/api/v1/session/messages"] {
        let list = b
            .post(
                path,
                json!({"call_id": "c1", "last_msg_id": "", "size": 100}),
            )
            .await;
        let pick = list
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["content"]["text"] == "大件快递")
            .unwrap_or_else(|| panic!("{path}: {list}"))
            .clone();
        assert_eq!(
            pick["content"],
            json!({"type": "interactive", "text": "大件快递"}),
            "{path}"
        );
        assert_eq!(pick["reply"]["msg_id"], menu["msg_id"], "{path}");
        assert_eq!(pick["reply"]["type"], "interactive");
        assert_eq!(pick["reply"]["interactive"], menu["content"]["interactive"]);
        // The seed's flat reply shape: the answered content beside its id, nothing else.
        let seed_pick = examples::seed("000")
            .iter()
            .filter_map(|d| d["data"].as_array().cloned())
            .flatten()
            .find(|m| m["sender_type"] == "user" && m["content"]["type"] == "interactive")
            .unwrap();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&pick["reply"]), keys(&seed_pick["reply"]));
        assert_eq!(keys(&pick["content"]), keys(&seed_pick["content"]));
    }
    let records = records(&b.app, &b.t, "").await;
    let rec = records.iter().find(|r| r["content"] == "大件快递").unwrap();
    assert_eq!(rec["context"], menu["msg_id"]);

    b.post("/api/v1/session/end", json!({"call_id": "c1"}))
        .await;
    let end = b.events("session.end").await.remove(0);
    let pick = end["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["content"]["text"] == "大件快递")
        .unwrap()
        .clone();
    assert_eq!(
        pick["content"],
        json!({"type": "interactive", "text": "大件快递"})
    );
    assert_eq!(
        (
            &pick["reply"]["msg_id"],
            &pick["reply"]["sender_type"],
            &pick["reply"]["timestamp"]
        ),
        (&menu["msg_id"], &json!("robot"), &menu["timestamp"])
    );
    assert_eq!(
        pick["reply"]["content"], menu["content"],
        "seed 002's full shape"
    );
}

/// Item 2: agent messages keep their seat (the named one, else the holder's), the system
/// events name the seats, and nxlink records carry the agent fields as seed 004 does.
#[tokio::test]
async fn seats_are_real_on_messages_events_and_records() {
    let b = Bot::start(LOGISTICS).await;
    crate::robots::menus_and_slots_to_handoff(&b).await;
    let taken = b
        .post(
            "/api/v1/session/transfer/result",
            json!({"call_id": "c1", "result": "accepted", "seat_id": "708"}),
        )
        .await;
    assert_eq!(taken["seat_id"], "708");
    let send = |text: &str, seat: Option<&str>| {
        let mut body = json!({"call_id": "c1", "sender_type": "agent",
            "messages": [{"type": "text", "text": text}]});
        if let Some(seat) = seat {
            body["seat_id"] = json!(seat);
        }
        b.post("/api/v1/session/message/send", body)
    };
    send("from the holder", None).await;
    send("from a colleague", Some("677")).await;
    b.text("c1", "是的").await;
    b.post("/api/v1/session/end", json!({"call_id": "c1"}))
        .await;

    let all = b.messages("c1").await;
    let by_text = |t: &str| {
        all.iter()
            .find(|m| m["content"]["text"] == t)
            .unwrap()
            .clone()
    };
    assert_eq!(by_text("from the holder")["seat_id"], "708");
    assert_eq!(by_text("from a colleague")["seat_id"], "677");
    let system = |kind: &str| {
        all.iter()
            .find(|m| m["content"]["system"]["type"] == kind)
            .unwrap()["content"]["system"]
            .clone()
    };
    assert_eq!(
        system("conversation.take_over"),
        json!({"type": "conversation.take_over", "from_seat_id": "", "to_seat_id": "708"})
    );
    assert_eq!(
        system("conversation.close"),
        json!({"type": "conversation.close", "from_seat_id": "708", "to_seat_id": ""})
    );

    // nxlink: the agent fields of seed 004's records.
    let seed_record = seed_004_record(|r| r["chat_type"] == 1 && r.get("agent_account").is_some());
    let recs = records(&b.app, &b.t, "").await;
    let rec = |t: &str| recs.iter().find(|r| r["content"] == t).unwrap().clone();
    for (text, seat) in [
        ("from the holder", "708"),
        ("from a colleague", "677"),
        ("是的", "708"),
    ] {
        let r = rec(text);
        for field in ["agent_id", "agent_name", "agent_account"] {
            assert!(seed_record.get(field).is_some());
            assert_eq!(r[field], seat, "{field} of {text}: {r}");
        }
    }
    assert!(
        rec("您好 nick，欢迎使用物流客服。")
            .get("agent_id")
            .is_none(),
        "robot messages have no agent"
    );
    let found = records(&b.app, &b.t, "&agent_account=677").await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["content"], "from a colleague");
    assert_eq!(found[0]["agent_account"], "677");
}
