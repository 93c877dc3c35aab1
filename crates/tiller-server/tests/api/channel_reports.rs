//! The channel's own reports over HTTP (Chatbot folder, CN items; routes in
//! docs/compat.md): status changes of the messages the channel was handed, messages it sent
//! on its own, and user messages recorded without a robot turn.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tiller_core::Clock as _;

use crate::{
    helpers::Reply,
    robots::{Bot, LOGISTICS},
};

const STATUS: &str = "/api/v1/channel/message/status";
const SENT: &str = "/api/v1/channel/message/report";
const USER: &str = "/api/v1/channel/user/message/report";

impl Bot {
    /// POSTs without asserting success.
    async fn try_post(&self, path: &str, body: Value) -> Reply {
        self.app.post_signed(&self.t, path, &body.to_string()).await
    }

    /// An agent message sent into `call_id` through the send API; its msg_id.
    async fn agent_sends(&self, call_id: &str, text: &str) -> String {
        let body = json!({"call_id": call_id, "sender_type": "agent",
            "messages": [{"type": "text", "text": text}]});
        let sent = self.post("/api/v1/session/message/send", body).await;
        sent["msg_id"].as_str().unwrap().to_owned()
    }

    async fn status_of(&self, call_id: &str, msg_id: &str) -> Value {
        let all = self.messages(call_id).await;
        let m = all.iter().find(|m| m["msg_id"] == msg_id).unwrap();
        m["status"].clone()
    }

    /// The `message.status` callbacks received so far, as `(msg_id, status)`.
    async fn status_callbacks(&self) -> Vec<(String, String)> {
        let events = self.events("message.status").await;
        events
            .iter()
            .flat_map(|e| e["messages"].as_array().unwrap().clone())
            .map(|m| {
                let s = |k: &str| m[k].as_str().unwrap().to_owned();
                (s("msg_id"), s("status"))
            })
            .collect()
    }
}

/// A 4xx in the /api/v1 envelope, with its message.
fn refused(r: &Reply, status: StatusCode) -> String {
    assert_eq!(r.status, status, "{}", r.text);
    let v = r.json();
    assert_eq!(v["code"], status.as_u16(), "{v}");
    assert_eq!(v["data"], Value::Null, "{v}");
    assert_eq!(v["request_id"].as_str().unwrap().len(), 32);
    v["message"].as_str().unwrap().to_owned()
}

fn pair(msg_id: &str, status: &str) -> (String, String) {
    (msg_id.to_owned(), status.to_owned())
}

#[tokio::test]
async fn a_status_report_moves_a_message_forward_and_fires_message_status_once() {
    let b = Bot::start(LOGISTICS).await;
    b.text("c1", "hi").await;
    let g1 = b.agent_sends("c1", "hello").await;
    // The webhook path first: the message.send's 2xx makes it `delivery`, reported once.
    assert_eq!(b.status_callbacks().await, [pair(&g1, "delivery")]);
    let by_outcome = b.events("message.status").await.remove(0);

    let r = b
        .post(
            STATUS,
            json!({"call_id": "c1", "messages": [{"msg_id": g1, "status": "read",
            "timestamp": 1_716_965_185_i64}]}),
        )
        .await;
    assert_eq!(
        r,
        json!({"updated": 1, "messages": [{"msg_id": g1, "status": "read", "changed": true}]})
    );
    assert_eq!(b.status_of("c1", &g1).await, "read");
    assert_eq!(
        b.status_callbacks().await,
        [pair(&g1, "delivery"), pair(&g1, "read")],
        "one more callback, for the one transition"
    );
    // The same event as the outcome path's: the same wrapper, the same item shape.
    let by_report = b.events("message.status").await.remove(1);
    for field in [
        "event",
        "call_id",
        "company",
        "channel",
        "channel_id",
        "user",
    ] {
        assert_eq!(by_report[field], by_outcome[field], "{field}");
    }
    let item = by_report["messages"][0].as_object().unwrap();
    let keys: Vec<&str> = item.keys().map(String::as_str).collect();
    assert_eq!(keys, ["msg_id", "status", "timestamp"]);
    assert_eq!(item["timestamp"], b.app.clock.now().timestamp());
}

#[tokio::test]
async fn a_backwards_status_is_ignored_without_a_callback() {
    let b = Bot::start(LOGISTICS).await;
    b.text("c1", "hi").await;
    let g1 = b.agent_sends("c1", "hello").await;
    b.callbacks().await;
    let read = |id: &str| json!({"call_id": "c1", "messages": [{"msg_id": id, "status": "read"}]});
    b.post(STATUS, read(&g1)).await;
    // Read before the message.send's 2xx came back: the outcome's `delivery` is older news.
    let g2 = b.agent_sends("c1", "more").await;
    b.post(STATUS, read(&g2)).await;
    let before = b.status_callbacks().await;
    assert_eq!(
        before,
        [pair(&g1, "delivery"), pair(&g1, "read"), pair(&g2, "read")]
    );
    assert_eq!(b.status_of("c1", &g2).await, "read");

    // read never goes back to delivery, nor to failed.
    let r = b
        .post(
            STATUS,
            json!({"call_id": "c1", "messages": [
            {"msg_id": g1, "status": "delivery"}, {"msg_id": g2, "status": "failed"}]}),
        )
        .await;
    assert_eq!(r["updated"], 0);
    assert_eq!(
        r["messages"],
        json!([{"msg_id": g1, "status": "read", "changed": false},
               {"msg_id": g2, "status": "read", "changed": false}])
    );
    assert_eq!(b.status_of("c1", &g1).await, "read");
    assert_eq!(b.status_callbacks().await, before, "no callback");
}

#[tokio::test]
async fn bad_status_reports_are_refused_in_the_envelope_and_change_nothing() {
    let b = Bot::start(LOGISTICS).await;
    b.text("c1", "hi").await;
    let g1 = b.agent_sends("c1", "hello").await;
    let user = b.messages("c1").await[1]["msg_id"].clone();
    let before = b.status_callbacks().await;
    let report = |items: Value| json!({"call_id": "c1", "messages": items});
    let good = json!({"msg_id": g1, "status": "read"});
    for (items, expected) in [
        (
            json!([good, {"msg_id": "nope", "status": "read"}]),
            "msg_id nope names no message of session c1".to_owned(),
        ),
        (
            json!([good, {"msg_id": user, "status": "read"}]),
            format!(
                "msg_id {} is a user message; a channel reports the status of messages sent \
                 to the user",
                user.as_str().unwrap()
            ),
        ),
        (
            json!([good, {"msg_id": g1, "status": "sent"}]),
            "messages[1].status must be delivery, read or failed, not sent".to_owned(),
        ),
        (
            json!([{"msg_id": g1, "status": "seen"}]),
            "messages[0].status must be delivery, read or failed".to_owned(),
        ),
        (
            json!([]),
            "messages must hold at least one status".to_owned(),
        ),
    ] {
        let r = b.try_post(STATUS, report(items.clone())).await;
        assert_eq!(refused(&r, StatusCode::BAD_REQUEST), expected, "{items}");
    }
    let unknown = json!({"call_id": "c9", "messages": [good]});
    let r = b.try_post(STATUS, unknown).await;
    assert_eq!(refused(&r, StatusCode::NOT_FOUND), "session c9 not found");
    assert_eq!(b.status_of("c1", &g1).await, "delivery", "nothing changed");
    assert_eq!(b.status_callbacks().await, before, "no callback");
}

#[tokio::test]
async fn a_closed_session_still_takes_late_receipts() {
    let b = Bot::start(LOGISTICS).await;
    b.text("c1", "hi").await;
    let g1 = b.agent_sends("c1", "bye").await;
    b.post("/api/v1/session/end", json!({"call_id": "c1"}))
        .await;
    b.post(
        STATUS,
        json!({"call_id": "c1", "messages": [{"msg_id": g1, "status": "read"}]}),
    )
    .await;
    assert_eq!(b.status_of("c1", &g1).await, "read");
    assert!(b.status_callbacks().await.contains(&pair(&g1, "read")));
}

#[tokio::test]
async fn messages_the_channel_sent_are_recorded_without_message_send() {
    let b = Bot::start(LOGISTICS).await;
    b.text("c1", "hi").await;
    let body = json!({"call_id": "c1", "sender_type": "chatbot", "messages": [
        {"type": "text", "text": "menu, from the channel", "msg_id": "ch-1", "timestamp": 1_716_965_185_i64},
        {"type": "image", "media": {"origin_url": "https://example.com/a.jpg"}, "status": "delivery"},
    ]});
    let r = b.post(SENT, body.clone()).await;
    assert_eq!(r["call_id"], "c1");
    let ids: Vec<String> = serde_json::from_value(r["msg_ids"].clone()).unwrap();
    assert_eq!(ids[0], "ch-1");
    assert_eq!(ids[1].len(), 32, "a fresh id");
    let all = b.messages("c1").await;
    let kinds: Vec<(&str, &str)> = all
        .iter()
        .map(|m| {
            (
                m["sender_type"].as_str().unwrap(),
                m["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("system", "delivery"),
            ("user", "delivery"),
            ("chatbot", "sent"),
            ("chatbot", "delivery")
        ]
    );
    assert_eq!(all[2]["timestamp"], 1_716_965_185_i64);
    assert!(
        b.events("message.send").await.is_empty(),
        "the channel sent them"
    );

    // A retry with the channel's msg_id stores nothing new; the channel's own message
    // reports its status too.
    let mut retry = body;
    retry["messages"].as_array_mut().unwrap().truncate(1);
    let again = b.post(SENT, retry).await;
    assert_eq!(again["msg_ids"][0], "ch-1");
    assert_eq!(b.messages("c1").await.len(), 4);
    b.post(
        STATUS,
        json!({"call_id": "c1", "messages": [{"msg_id": "ch-1", "status": "read"}]}),
    )
    .await;
    assert_eq!(b.status_callbacks().await, [pair("ch-1", "read")]);
    assert_eq!(
        b.app.turns().await,
        1,
        "the user's own message still waits for the robot"
    );
}

#[tokio::test]
async fn channel_messages_default_to_the_agent_holding_the_session() {
    let b = Bot::start(LOGISTICS).await;
    b.text("c1", "hi").await;
    let by_user = json!({"channel_id": "sicepat_whatsapp", "user": {"id": "123"},
        "messages": [{"type": "text", "text": "an agent on the channel"}]});
    let r = b.post(SENT, by_user).await;
    assert_eq!(r["call_id"], "c1", "the user's latest session");
    let m = b.messages("c1").await.pop().unwrap();
    assert_eq!(
        (&m["sender_type"], &m["seat_id"]),
        (&json!("agent"), &json!(""))
    );
}

#[tokio::test]
async fn bad_channel_messages_are_refused_and_store_nothing() {
    let b = Bot::start(LOGISTICS).await;
    b.text("c1", "hi").await;
    b.text("c2", "hi").await;
    let text = json!({"type": "text", "text": "x"});
    let system = json!({"type": "system", "system": {"type": "conversation.close"}});
    for (body, status, expected) in [
        (
            json!({"call_id": "c1", "sender_type": "user", "messages": [text]}),
            StatusCode::BAD_REQUEST,
            r#"sender_type must be agent, agent_system, robot or chatbot, not "user""#,
        ),
        (
            json!({"call_id": "c1", "messages": [text, system]}),
            StatusCode::BAD_REQUEST,
            "messages[1] is a system event; Tiller records a session's system events",
        ),
        (
            json!({"call_id": "c1", "messages": []}),
            StatusCode::BAD_REQUEST,
            "messages must hold at least one message",
        ),
        (
            json!({"call_id": "c9", "messages": [text]}),
            StatusCode::NOT_FOUND,
            "session c9 not found",
        ),
    ] {
        let r = b.try_post(SENT, body.clone()).await;
        assert_eq!(refused(&r, status), expected, "{body}");
    }
    let c2_msg = b.messages("c2").await[1]["msg_id"].clone();
    let reused = json!({"call_id": "c1", "messages": [
        {"type": "text", "text": "new", "msg_id": "fresh"},
        {"type": "text", "text": "x", "msg_id": c2_msg}]});
    let r = b.try_post(SENT, reused).await;
    assert_eq!(
        refused(&r, StatusCode::CONFLICT),
        "a message's msg_id is already used by another session of this tenant"
    );
    assert_eq!(
        b.messages("c1").await.len(),
        2,
        "nothing of that call stored"
    );

    b.post("/api/v1/session/end", json!({"call_id": "c1"}))
        .await;
    let late = b
        .try_post(SENT, json!({"call_id": "c1", "messages": [text]}))
        .await;
    assert_eq!(refused(&late, StatusCode::CONFLICT), "session is closed");
    assert_eq!(b.messages("c1").await.len(), 3, "start, user, close");
}

/// A user-message body for the report route.
fn user_report(call_id: &str, texts: &[(&str, &str)]) -> Value {
    let messages: Vec<Value> = texts
        .iter()
        .map(|(id, text)| json!({"type": "text", "text": text, "msg_id": id}))
        .collect();
    json!({"call_id": call_id, "channel": "chatbot", "channel_id": "sicepat_whatsapp",
        "user": {"id": "123", "name": "nick"}, "messages": messages})
}

#[tokio::test]
async fn reported_user_messages_are_recorded_without_a_robot_turn() {
    let b = Bot::start(LOGISTICS).await;
    let r = b
        .post(USER, user_report("c1", &[("u1", "hi"), ("u2", "anyone?")]))
        .await;
    assert_eq!(r, json!({"call_id": "c1", "msg_ids": ["u1", "u2"]}));
    assert_eq!(b.app.turns().await, 0, "no robot turn is due");
    let kinds: Vec<Value> = b
        .messages("c1")
        .await
        .iter()
        .map(|m| m["sender_type"].clone())
        .collect();
    assert_eq!(kinds, ["system", "user", "user"]);
    assert_eq!(b.session("c1").await["status"], "bot");

    // Idempotent by msg_id, like the user-message route.
    b.post(USER, user_report("c1", &[("u1", "hi")])).await;
    assert_eq!(b.messages("c1").await.len(), 3);

    // The next message to answer opens the dialogue; the recorded ones are not answered.
    b.text("c1", "hello").await;
    assert_eq!(b.app.turns().await, 1);
    assert_eq!(
        b.robot_said("c1").await.len(),
        2,
        "the greeting and the menu"
    );
}

#[tokio::test]
async fn reported_user_messages_are_not_forwarded_while_an_agent_is_asked_for() {
    let b = Bot::start(LOGISTICS).await;
    b.text("c1", "hi").await;
    b.app.turns().await;
    b.text("c1", "转人工").await;
    b.app.turns().await;
    assert_eq!(b.session("c1").await["status"], "pending_agent");
    b.post(
        USER,
        user_report("c1", &[("u9", "I told the channel's agent")]),
    )
    .await;
    assert!(
        b.events("message.receive").await.is_empty(),
        "the channel has it already"
    );
    b.text("c1", "still there?").await;
    let forwarded = b.events("message.receive").await;
    assert_eq!(forwarded.len(), 1);
    assert_eq!(
        forwarded[0]["messages"][0]["content"]["text"],
        "still there?"
    );
    assert_eq!(b.app.turns().await, 0);
}

#[tokio::test]
async fn bad_user_reports_are_refused_and_store_nothing() {
    let b = Bot::start(LOGISTICS).await;
    let mut no_channel = user_report("c1", &[("u1", "hi")]);
    no_channel.as_object_mut().unwrap().remove("channel");
    let r = b.try_post(USER, no_channel).await;
    assert_eq!(
        refused(&r, StatusCode::BAD_REQUEST),
        "channel must name the session's channel"
    );
    let r = b.try_post(USER, user_report("c1", &[])).await;
    assert_eq!(
        refused(&r, StatusCode::BAD_REQUEST),
        "messages must hold at least one message"
    );
    let list = b
        .try_post(
            "/api/v1/session/message/list",
            json!({"call_id": "c1", "size": 10}),
        )
        .await;
    assert_eq!(list.status, StatusCode::NOT_FOUND, "no session was opened");
}

#[tokio::test]
async fn channels_named_like_the_report_paths_still_reach_user_send_message() {
    let b = Bot::start(LOGISTICS).await;
    for channel in ["message", "user"] {
        let body = json!({"call_id": format!("c-{channel}"), "channel_id": "biz",
            "user": {"id": "123"}, "messages": [{"type": "text", "text": "hi"}]});
        let r = b
            .post(&format!("/api/v1/channel/{channel}/message"), body)
            .await;
        assert_eq!(r["msg_ids"].as_array().unwrap().len(), 1);
        assert_eq!(b.session(&format!("c-{channel}")).await["channel"], channel);
    }
}

/// Issue 11, item 1 for templates: a tap on a template's quick-reply button (`{"type":
/// "button","text":…}`) is listed with a `reply` naming the template it answers (the one
/// with that button, not merely the newest), and its nxlink record's `context` is that
/// template's id.
#[tokio::test]
async fn a_template_button_tap_answers_the_template_with_that_button() {
    let b = Bot::start(LOGISTICS).await;
    b.text("c1", "hi").await;
    b.app.turns().await;
    let template = |id: &str, buttons: &[&str]| {
        let button: Vec<Value> = buttons
            .iter()
            .map(|t| json!({"type": "QUICK_REPLY", "text": t}))
            .collect();
        json!({"type": "template", "msg_id": id, "template": {"type": "WhatsApp",
            "content": {"body": "Your bill is due. Pay now?", "button": button}}})
    };
    let body = json!({"call_id": "c1", "sender_type": "chatbot",
        "messages": [template("tpl-pay", &["yes", "no"]), template("tpl-survey", &["great"])]});
    b.post(SENT, body).await;
    b.user("c1", json!({"type": "button", "text": "no"})).await;

    for path in ["/api/v1/session/message/list", "/api/v1/session/messages"] {
        let list = b
            .post(
                path,
                json!({"call_id": "c1", "last_msg_id": "", "size": 100}),
            )
            .await;
        let tap = list
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["sender_type"] == "user" && m["content"]["type"] == "button")
            .unwrap_or_else(|| panic!("{path}: {list}"))
            .clone();
        assert_eq!(
            tap["content"],
            json!({"type": "button", "text": "no"}),
            "{path}"
        );
        assert_eq!(tap["reply"]["msg_id"], "tpl-pay", "{path}: {tap}");
        assert_eq!(tap["reply"]["type"], "template", "{path}: {tap}");
    }

    let records = crate::compat::records(&b.app, &b.t, "").await;
    let tap = records
        .iter()
        .find(|r| r["content"] == "no")
        .unwrap_or_else(|| panic!("{records:?}"));
    assert_eq!(tap["context"], "tpl-pay");
}
