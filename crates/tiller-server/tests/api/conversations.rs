//! The chat APIs over HTTP: user messages in, agent messages out, the message and
//! conversation lists, read marks, ending and reporting.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Reply, TestApp, TestTenant};

/// The documented Huawei example (spec §3.1), with our call id.
fn huawei_body(call_id: &str) -> Value {
    json!({"call_id":call_id,"channel":"HuaWei","channel_id":"hwbcauat","user":{"id":"123","name":"nick"},
      "messages":[{"type":"text","text":"hi"},
        {"type":"file","media":{"origin_url":"https://www.airudder.com/xxx.pdf","name":"xxx.pdf"}},
        {"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"3eeb467c935f6f2cb45021364ef3c1e8-2-1-button-0-","title":"男"}}}]})
}

async fn inbound(app: &TestApp, t: &TestTenant, channel: &str, body: &Value) -> Reply {
    app.post_signed(
        t,
        &format!("/api/v1/channel/{channel}/message"),
        &body.to_string(),
    )
    .await
}

async fn recent(app: &TestApp, t: &TestTenant, call_id: &str, last: &str, size: i64) -> Reply {
    let body = json!({"call_id":call_id,"last_msg_id":last,"size":size,"type":"single"});
    app.post_signed(t, "/api/v1/session/messages", &body.to_string())
        .await
}

fn ok_data(reply: &Reply) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let v = reply.json();
    assert_eq!(v["code"], 200, "{v}");
    v["data"].clone()
}

fn assert_error(reply: &Reply, status: StatusCode, needle: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    let v = reply.json();
    assert_eq!(v["code"], status.as_u16());
    assert!(
        v["message"].as_str().unwrap().contains(needle),
        "expected {needle:?}: {v}"
    );
}

async fn send_text(app: &TestApp, t: &TestTenant, call_id: &str, text: &str) -> Reply {
    let body =
        json!({"call_id":call_id,"sender_type":"agent","messages":[{"type":"text","text":text}]});
    app.post_signed(t, "/api/v1/session/message/send", &body.to_string())
        .await
}

#[tokio::test]
async fn user_messages_open_a_session_and_come_back_newest_first() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let body = huawei_body("netinfo session id");
    let data = ok_data(&inbound(&app, &t, "huawei", &body).await);
    assert_eq!(data["call_id"], "netinfo session id");
    let ids = data["msg_ids"].as_array().unwrap();
    assert_eq!(ids.len(), 3);

    let list = ok_data(&recent(&app, &t, "netinfo session id", "", 20).await);
    let list = list.as_array().unwrap();
    assert_eq!(
        list.len(),
        4,
        "three user messages and the conversation.start event: {list:?}"
    );
    // Newest first: the user's messages in reverse, then the start event.
    for (i, sent) in body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .enumerate()
    {
        // A pick is listed the documented way (`{"type":"interactive","text":…}`); the
        // others round-trip exactly.
        let want = match sent["interactive"]["button_reply"]["title"].as_str() {
            Some(title) => json!({"type": "interactive", "text": title}),
            None => sent.clone(),
        };
        assert_eq!(list[i]["content"], want, "content as listed");
        assert_eq!(list[i]["sender_type"], "user");
        assert_eq!(list[i]["status"], "delivery");
        assert!(list[i]["timestamp"].as_i64().unwrap() > 0);
    }
    assert_eq!(list[3]["sender_type"], "system");
    assert_eq!(list[3]["content"]["system"]["type"], "conversation.start");
}

#[tokio::test]
async fn a_client_msg_id_makes_retries_idempotent_and_unknown_types_are_kept() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let sticker = json!({"type":"sticker","sticker":{"id":"st-1","animated":true}});
    let mut item = sticker.clone();
    item["msg_id"] = json!("client-1");
    let body = json!({"call_id":"c1","channel":"chatbot","channel_id":"acc","user":{"id":"u1"},"messages":[item]});
    let first = ok_data(&inbound(&app, &t, "chatbot", &body).await);
    let second = ok_data(&inbound(&app, &t, "chatbot", &body).await);
    assert_eq!(first["msg_ids"], json!(["client-1"]));
    assert_eq!(second["msg_ids"], json!(["client-1"]));
    let list = ok_data(&recent(&app, &t, "c1", "", 100).await);
    let user: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["sender_type"] == "user")
        .collect();
    assert_eq!(user.len(), 1, "stored once");
    assert_eq!(user[0]["msg_id"], "client-1");
    assert_eq!(
        user[0]["content"], sticker,
        "an unknown content type comes back as it came"
    );

    // The same id on another session is not a retry: refused, and nothing is stored.
    let mut other = body.clone();
    other["call_id"] = json!("c2");
    let reply = inbound(&app, &t, "chatbot", &other).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
    let message = reply.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("msg_id is already used"), "{message}");
    assert!(!message.contains("msg_id msg_id"), "{message}");
    let sessions = app
        .post_signed(&t, "/api/v1/session/list", &json!({"size": 10}).to_string())
        .await
        .json();
    assert_eq!(sessions["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_inbound_input_is_refused_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    let cases = [
        (
            json!({"call_id":"c","channel_id":"a","user":{"id":"u"},"messages":[{"type":"image","media":"x"}]}),
            "messages[0]",
        ),
        (
            json!({"call_id":"c","channel_id":"a","user":{"id":"u"},"messages":[]}),
            "at least one",
        ),
        (
            json!({"call_id":"c","channel_id":"a","user":{"id":"u"},"messages":[{"text":"no type"}]}),
            "string `type`",
        ),
        (
            json!({"call_id":"c","channel":"line","channel_id":"a","user":{"id":"u"},"messages":[{"type":"text","text":"x"}]}),
            "does not match",
        ),
        (
            json!({"call_id":"","channel_id":"a","user":{"id":"u"},"messages":[{"type":"text","text":"x"}]}),
            "call_id",
        ),
        (
            json!({"call_id":"c","channel_id":"a","messages":[{"type":"text","text":"x"}]}),
            "missing field `user`",
        ),
        (
            json!({"call_id":"c","channel_id":"a","user":{"id":"u"},"messages":[{"type":"text","text":"ok"},{"type":"video","media":7}]}),
            "messages[1]",
        ),
    ];
    for (body, needle) in cases {
        assert_error(
            &inbound(&app, &t, "chatbot", &body).await,
            StatusCode::BAD_REQUEST,
            needle,
        );
    }
    let sessions = ok_data(
        &app.post_signed(&t, "/api/v1/session/list", r#"{"size":100}"#)
            .await,
    );
    assert_eq!(sessions, json!([]), "nothing was stored");
}

#[tokio::test]
async fn send_regular_message_stores_exactly_one_valid_message() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    ok_data(&inbound(&app, &t, "huawei", &huawei_body("s1")).await);

    let data = ok_data(&send_text(&app, &t, "s1", "this's agent").await);
    let msg_id = data["msg_id"].as_str().unwrap();
    assert_eq!(msg_id.len(), 32);
    let newest = &ok_data(&recent(&app, &t, "s1", "", 1).await)[0];
    assert_eq!(newest["msg_id"], msg_id);
    assert_eq!(newest["sender_type"], "agent");
    assert_eq!(newest["status"], "sent");
    assert_eq!(
        newest["content"],
        json!({"type":"text","text":"this's agent"})
    );

    // Without call_id, the user's session on that channel account is found.
    let by_user = json!({"channel":"WhatsApp","channel_id":"hwbcauat","user":{"id":"123"},"sender_type":"agent_system",
        "messages":[{"type":"image","media":{"origin_url":"https://x/a.jpg"}}]});
    ok_data(
        &app.post_signed(&t, "/api/v1/session/message/send", &by_user.to_string())
            .await,
    );

    assert_eq!(
        send_text(&app, &t, "s1", &"字".repeat(2096)).await.status,
        StatusCode::OK
    );
    let before = ok_data(&recent(&app, &t, "s1", "", 100).await)
        .as_array()
        .unwrap()
        .len();
    assert_error(
        &send_text(&app, &t, "s1", &"字".repeat(2097)).await,
        StatusCode::BAD_REQUEST,
        "2096",
    );
    assert_error(
        &send_text(&app, &t, "s1", "").await,
        StatusCode::BAD_REQUEST,
        "non-empty",
    );
    let two = json!({"call_id":"s1","sender_type":"agent","messages":[{"type":"text","text":"a"},{"type":"text","text":"b"}]});
    assert_error(
        &app.post_signed(&t, "/api/v1/session/message/send", &two.to_string())
            .await,
        StatusCode::BAD_REQUEST,
        "exactly one",
    );
    let user = json!({"call_id":"s1","sender_type":"user","messages":[{"type":"text","text":"a"}]});
    assert_error(
        &app.post_signed(&t, "/api/v1/session/message/send", &user.to_string())
            .await,
        StatusCode::BAD_REQUEST,
        "sender_type",
    );
    let no_media =
        json!({"call_id":"s1","sender_type":"agent","messages":[{"type":"image","media":null}]});
    assert_error(
        &app.post_signed(&t, "/api/v1/session/message/send", &no_media.to_string())
            .await,
        StatusCode::BAD_REQUEST,
        "origin_url",
    );
    let template = json!({"call_id":"s1","sender_type":"agent","messages":[{"type":"template","template":{"type":"WhatsApp"}}]});
    assert_error(
        &app.post_signed(&t, "/api/v1/session/message/send", &template.to_string())
            .await,
        StatusCode::BAD_REQUEST,
        "cannot be sent",
    );
    assert_error(
        &send_text(&app, &t, "no-such-session", "hi").await,
        StatusCode::NOT_FOUND,
        "not found",
    );
    let after = ok_data(&recent(&app, &t, "s1", "", 100).await)
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after, "refused messages are not stored");

    // Another tenant cannot send into this session.
    let other = app.tenant("Other").await;
    assert_error(
        &send_text(&app, &other, "s1", "hi").await,
        StatusCode::NOT_FOUND,
        "not found",
    );

    // A closed session refuses agent messages.
    ok_data(
        &app.post_signed(&t, "/api/v1/session/end", r#"{"call_id":"s1"}"#)
            .await,
    );
    assert_error(
        &send_text(&app, &t, "s1", "late").await,
        StatusCode::CONFLICT,
        "closed",
    );
}

#[tokio::test]
async fn message_lists_page_by_cursor_and_the_star_list_keeps_24_hours() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    ok_data(&inbound(&app, &t, "huawei", &huawei_body("p1")).await);
    for i in 0..5 {
        ok_data(&send_text(&app, &t, "p1", &format!("m{i}")).await);
    }
    // 9 messages: start, 3 user, 5 agent. Page through 4 at a time.
    let mut seen = Vec::new();
    let mut last = String::new();
    loop {
        let page = ok_data(&recent(&app, &t, "p1", &last, 4).await);
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        last = page.last().unwrap()["msg_id"].as_str().unwrap().to_owned();
        seen.extend(page);
    }
    assert_eq!(seen.len(), 9);
    assert_eq!(seen[0]["content"]["text"], "m4");
    assert_eq!(seen[8]["content"]["system"]["type"], "conversation.start");

    for size in [0, 101, 10_000, -1] {
        assert_error(
            &recent(&app, &t, "p1", "", size).await,
            StatusCode::BAD_REQUEST,
            "size",
        );
    }
    assert_error(
        &recent(&app, &t, "p1", "nope", 5).await,
        StatusCode::BAD_REQUEST,
        "last_msg_id",
    );
    assert_error(
        &recent(&app, &t, "unknown-call", "", 5).await,
        StatusCode::NOT_FOUND,
        "not found",
    );

    // A day later, the *query list shows only what is newer than 24 hours.
    app.clock.advance(Duration::hours(25));
    ok_data(&send_text(&app, &t, "p1", "tomorrow").await);
    let recent_only = ok_data(&recent(&app, &t, "p1", "", 100).await);
    assert_eq!(recent_only.as_array().unwrap().len(), 1);
    assert_eq!(recent_only[0]["content"]["text"], "tomorrow");
    // The other list keeps everything, in either order.
    let all = ok_data(
        &app.post_signed(
            &t,
            "/api/v1/session/message/list",
            r#"{"call_id":"p1","size":100,"order":"asc"}"#,
        )
        .await,
    );
    assert_eq!(all.as_array().unwrap().len(), 10);
    assert_eq!(all[0]["content"]["system"]["type"], "conversation.start");
    assert_eq!(all[9]["content"]["text"], "tomorrow");
}

#[tokio::test]
async fn read_marks_end_and_report_follow_the_session_rules() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    ok_data(&inbound(&app, &t, "huawei", &huawei_body("r1")).await);
    ok_data(&send_text(&app, &t, "r1", "agent text").await);

    let read = ok_data(
        &app.post_signed(&t, "/api/v1/session/message/read", r#"{"call_id":"r1"}"#)
            .await,
    );
    assert_eq!(read["updated"], 3, "only the user's messages");
    let again = ok_data(
        &app.post_signed(&t, "/api/v1/session/message/read", r#"{"call_id":"r1"}"#)
            .await,
    );
    assert_eq!(again["updated"], 0);
    let list = ok_data(&recent(&app, &t, "r1", "", 100).await);
    for m in list.as_array().unwrap() {
        let expected = match m["sender_type"].as_str().unwrap() {
            "user" => "read",
            "agent" => "sent",
            _ => "delivery",
        };
        assert_eq!(m["status"], expected, "{m}");
    }

    assert_error(
        &app.post_signed(
            &t,
            "/api/v1/session/report",
            r#"{"call_id":"r1","intention":"A"}"#,
        )
        .await,
        StatusCode::CONFLICT,
        "open",
    );
    let ended = ok_data(
        &app.post_signed(
            &t,
            "/api/v1/session/end",
            r#"{"call_id":"r1","reason":"user"}"#,
        )
        .await,
    );
    assert_eq!(ended["status"], "closed");
    assert_eq!(ended["session_end_reason"], "user");
    assert!(ended["session_end_time"].as_str().unwrap().ends_with('Z'));
    assert_error(
        &app.post_signed(&t, "/api/v1/session/end", r#"{"call_id":"r1"}"#)
            .await,
        StatusCode::CONFLICT,
        "closed",
    );
    assert_error(
        &app.post_signed(
            &t,
            "/api/v1/session/end",
            r#"{"call_id":"r1","reason":"bored"}"#,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "reason",
    );
    let newest = &ok_data(&recent(&app, &t, "r1", "", 1).await)[0];
    assert_eq!(newest["content"]["system"]["type"], "conversation.close");

    let report = json!({"call_id":"r1","intention":"A","ner_slots":{"date":"2025-05-01"}});
    let reported = ok_data(
        &app.post_signed(&t, "/api/v1/session/report", &report.to_string())
            .await,
    );
    assert_eq!(
        reported["report"],
        json!({"intention":"A","ner_slots":{"date":"2025-05-01"}})
    );
    assert_error(
        &app.post_signed(&t, "/api/v1/session/report", r#"{"call_id":"r1"}"#)
            .await,
        StatusCode::BAD_REQUEST,
        "empty",
    );

    // A user writing again reopens the session with a new start event.
    ok_data(&inbound(&app, &t, "huawei", &huawei_body("r1")).await);
    let sessions = ok_data(
        &app.post_signed(&t, "/api/v1/session/list", r#"{"size":10}"#)
            .await,
    );
    assert_eq!(sessions[0]["status"], "bot");
}

#[tokio::test]
async fn conversation_list_filters_and_pages() {
    let app = TestApp::spawn().await;
    let t = app.tenant("Acme").await;
    for (i, user) in ["u1", "u2", "u1"].iter().enumerate() {
        let body = json!({"call_id":format!("c{i}"),"channel":"WhatsApp","channel_id":"acc","user":{"id":user,"name":"N"},
            "messages":[{"type":"text","text":"hi"}]});
        ok_data(&inbound(&app, &t, "whatsapp", &body).await);
        app.clock.advance(Duration::seconds(10));
    }
    ok_data(
        &app.post_signed(&t, "/api/v1/session/end", r#"{"call_id":"c0"}"#)
            .await,
    );

    let all = ok_data(
        &app.post_signed(&t, "/api/v1/session/list", r#"{"size":10}"#)
            .await,
    );
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["call_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["c2", "c1", "c0"], "most recently started first");
    assert_eq!(all[0]["user"], json!({"id":"u1","name":"N"}));
    assert_eq!(all[0]["channel"], "WhatsApp");
    assert!(all[0]["session_start_time"]
        .as_str()
        .unwrap()
        .ends_with('Z'));

    let u1 = ok_data(
        &app.post_signed(&t, "/api/v1/session/list", r#"{"user_id":"u1","size":10}"#)
            .await,
    );
    assert_eq!(u1.as_array().unwrap().len(), 2);
    let closed = ok_data(
        &app.post_signed(
            &t,
            "/api/v1/session/list",
            r#"{"status":"closed","size":10}"#,
        )
        .await,
    );
    assert_eq!(closed.as_array().unwrap().len(), 1);
    assert_eq!(closed[0]["call_id"], "c0");
    let page2 = ok_data(
        &app.post_signed(
            &t,
            "/api/v1/session/list",
            r#"{"size":2,"last_call_id":"c1"}"#,
        )
        .await,
    );
    assert_eq!(page2[0]["call_id"], "c0");
    assert_error(
        &app.post_signed(&t, "/api/v1/session/list", r#"{"size":0}"#)
            .await,
        StatusCode::BAD_REQUEST,
        "size",
    );
    assert_error(
        &app.post_signed(&t, "/api/v1/session/list", r#"{"size":5,"status":"open"}"#)
            .await,
        StatusCode::BAD_REQUEST,
        "status",
    );

    // Another tenant sees none of it.
    let other = app.tenant("Other").await;
    assert_eq!(
        ok_data(
            &app.post_signed(&other, "/api/v1/session/list", r#"{"size":10}"#)
                .await
        ),
        json!([])
    );
    assert_error(
        &recent(&app, &other, "c1", "", 10).await,
        StatusCode::NOT_FOUND,
        "not found",
    );
}
