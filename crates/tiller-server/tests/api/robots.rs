//! Robots over HTTP: whole conversations with a flow robot (menus, slot capture with a
//! re-ask, transfer → take over → agent reply → close), refused transfers, expiry,
//! concurrent messages on one session answered in order, and a crashed node's turn. The
//! `Bot` fixture here serves `robots_external.rs` too.

use std::time::Duration;

use chrono::Duration as Span;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tiller_core::Clock as _;
use tiller_testkit::WebhookReceiver;

use crate::helpers::{TestApp, TestTenant};

pub(crate) const LOGISTICS: &str = include_str!("../../../../examples/robots/logistics.yaml");

/// An app with a tenant, an endpoint for every event, and `definition` as default robot.
pub(crate) struct Bot {
    pub app: TestApp,
    pub t: TestTenant,
    pub rx: WebhookReceiver,
    /// The robot as `/api/v1/robot/create` answered.
    pub robot: Value,
}

impl Bot {
    pub(crate) async fn start(definition: &str) -> Bot {
        Self::start_with(definition, |_| {}).await
    }

    pub(crate) async fn start_with(
        definition: &str,
        tweak: impl FnOnce(&mut tiller_server::Config),
    ) -> Bot {
        let app = TestApp::spawn_with(tweak).await;
        let t = app.tenant("Acme").await;
        let rx = WebhookReceiver::start().await;
        let bot = Bot {
            app,
            t,
            rx,
            robot: Value::Null,
        };
        bot.post(
            "/api/v1/webhook/endpoint/create",
            json!({"url": bot.rx.url}),
        )
        .await;
        let robot = bot
            .post(
                "/api/v1/robot/create",
                json!({"definition": definition, "default": true}),
            )
            .await;
        Bot { robot, ..bot }
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Value {
        let r = self.app.post_signed(&self.t, path, &body.to_string()).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        r.json()["data"].clone()
    }

    /// The user sends one content on session `call_id`.
    pub(crate) async fn user(&self, call_id: &str, content: Value) {
        let body = json!({"call_id": call_id, "channel_id": "sicepat_whatsapp",
            "user": {"id": "123", "name": "nick"}, "messages": [content]});
        self.post("/api/v1/channel/chatbot/message", body).await;
    }

    pub(crate) async fn text(&self, call_id: &str, text: &str) {
        self.user(call_id, json!({"type": "text", "text": text}))
            .await;
    }

    /// The session's messages, oldest first.
    pub(crate) async fn messages(&self, call_id: &str) -> Vec<Value> {
        let list = self
            .post(
                "/api/v1/session/message/list",
                json!({"call_id": call_id, "size": 100, "order": "asc"}),
            )
            .await;
        list.as_array().unwrap().clone()
    }

    /// The robot's messages since the last user message.
    pub(crate) async fn robot_said(&self, call_id: &str) -> Vec<Value> {
        let all = self.messages(call_id).await;
        let last_user = all
            .iter()
            .rposition(|m| m["sender_type"] == "user")
            .unwrap();
        all[last_user + 1..]
            .iter()
            .filter(|m| m["sender_type"] == "robot")
            .cloned()
            .collect()
    }

    pub(crate) async fn session(&self, call_id: &str) -> Value {
        let list = self
            .post("/api/v1/session/list", json!({"size": 100}))
            .await;
        list.as_array()
            .unwrap()
            .iter()
            .find(|s| s["call_id"] == call_id)
            .unwrap()
            .clone()
    }

    /// Delivers every pending callback and returns the bodies received so far.
    pub(crate) async fn callbacks(&self) -> Vec<Value> {
        while self.app.deliver().await > 0 {}
        self.rx
            .received()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }

    pub(crate) async fn events(&self, event: &str) -> Vec<Value> {
        let all = self.callbacks().await;
        all.into_iter().filter(|b| b["event"] == event).collect()
    }
}

pub(crate) fn text_of(m: &Value) -> String {
    let c = &m["content"];
    c["text"]
        .as_str()
        .or_else(|| c["interactive"]["body"]["text"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The id of the option titled `title` in an interactive prompt.
pub(crate) fn option_id(prompt: &Value, title: &str) -> String {
    let action = &prompt["content"]["interactive"]["action"];
    let buttons = action["buttons"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| &b["reply"]);
    let rows = action["sections"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["rows"].as_array().unwrap().iter());
    buttons
        .chain(rows)
        .find(|o| o["title"] == title)
        .unwrap_or_else(|| panic!("no option {title} in {prompt}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The first half of a whole conversation: the menus, slot capture with a re-ask, and
/// the hand-off the user asks for.
pub(crate) async fn menus_and_slots_to_handoff(b: &Bot) {
    let flow_id = b.robot["flow_id"].as_str().unwrap().to_owned();
    assert!(b.robot["robot_id"].as_str().unwrap().parse::<u64>().is_ok());

    // The first message opens the dialogue: a greeting and the list menu.
    b.text("c1", "hi").await;
    assert_eq!(b.app.turns().await, 1);
    let said = b.robot_said("c1").await;
    assert_eq!(said.len(), 2, "{said:?}");
    assert_eq!(text_of(&said[0]), "您好 nick，欢迎使用物流客服。");
    let turn = said[0]["msg_id"]
        .as_str()
        .unwrap()
        .strip_suffix("-0")
        .unwrap()
        .to_owned();
    assert_eq!(turn.len(), 32);
    assert_eq!(said[1]["msg_id"], format!("{turn}-1"));
    let row = option_id(&said[1], "大件快递");
    assert!(
        row.starts_with(&format!("{flow_id}-2-1-list-1-0-")),
        "{row}"
    );
    assert_eq!(b.app.turns().await, 0, "nothing left to answer");

    // A list pick by id, then a button tap by id.
    b.user(
        "c1",
        json!({"type": "interactive", "interactive": {"type": "list_reply",
        "list_reply": {"id": row, "title": "大件快递"}}}),
    )
    .await;
    b.app.turns().await;
    let said = b.robot_said("c1").await;
    assert_eq!(text_of(&said[0]), "请问您的性别是？");
    let male = option_id(&said[0], "男");
    assert!(male.ends_with("-1-button-0-"), "{male}");
    b.user(
        "c1",
        json!({"type": "interactive", "interactive": {"type": "button_reply",
        "button_reply": {"id": male, "title": "男"}}}),
    )
    .await;
    b.app.turns().await;
    assert!(text_of(&b.robot_said("c1").await[0]).starts_with("请输入上门取件日期"));

    // Slot capture: an invalid date is asked again, a valid one moves on.
    b.text("c1", "next week").await;
    b.app.turns().await;
    assert!(text_of(&b.robot_said("c1").await[0]).starts_with("日期格式不正确"));
    b.text("c1", "2025/5/1").await;
    b.app.turns().await;
    assert!(text_of(&b.robot_said("c1").await[0]).starts_with("请输入物品的申报价值"));

    // "转人工" from anywhere: the robot hands off.
    b.text("c1", "转人工").await;
    b.app.turns().await;
}

#[tokio::test]
async fn a_whole_conversation_menus_slots_transfer_take_over_and_close() {
    let b = Bot::start(LOGISTICS).await;
    menus_and_slots_to_handoff(&b).await;
    assert_eq!(b.session("c1").await["status"], "pending_agent");
    let transfer = b.events("session.transfer").await;
    assert_eq!(transfer.len(), 1);
    assert_eq!(transfer[0]["company"], "acme");
    assert_eq!(transfer[0]["call_id"], "c1");
    assert_eq!(transfer[0]["user"], json!({"id": "123", "name": "nick"}));
    assert_eq!(
        transfer[0]["conclusion"],
        json!({"record_slots": {"business": "大件快递", "gender": "男", "pickup_date": "2025-05-01"},
               "output_label": "E"})
    );
    let replies = b.events("message.send").await;
    assert!(replies
        .iter()
        .all(|e| e["messages"][0]["sender_type"] == "robot"));
    assert_eq!(replies.len(), 6, "one message.send per robot turn");

    // While the transfer waits, the robot stays silent; the user's words go agent-side.
    b.text("c1", "hello? anyone?").await;
    assert_eq!(b.app.turns().await, 0);
    let forwarded = b.events("message.receive").await;
    assert_eq!(forwarded.len(), 1);
    assert_eq!(
        forwarded[0]["messages"][0]["content"]["text"],
        "hello? anyone?"
    );

    // The agent takes over, replies (with status callbacks) and closes.
    let taken = b
        .post(
            "/api/v1/session/transfer/result",
            json!({"call_id": "c1", "result": "accepted", "seat_id": "agent-7"}),
        )
        .await;
    assert_eq!(
        (taken["status"].as_str(), taken["seat_id"].as_str()),
        (Some("agent"), Some("agent-7"))
    );
    let all = b.messages("c1").await;
    let take_over = &all.last().unwrap()["content"]["system"];
    assert_eq!(take_over["type"], "conversation.take_over");
    assert_eq!(take_over["to_seat_id"], "agent-7");

    let sent = b
        .post(
            "/api/v1/session/message/send",
            json!({"call_id": "c1", "sender_type": "agent", "messages": [{"type": "text", "text": "I can help"}]}),
        )
        .await;
    b.text("c1", "thanks").await;
    assert_eq!(
        b.app.turns().await,
        0,
        "the robot never answers while an agent holds"
    );
    let status = b.events("message.status").await;
    assert!(
        status
            .iter()
            .any(|e| e["messages"][0]["msg_id"] == sent["msg_id"]
                && e["messages"][0]["status"] == "delivery"),
        "{status:?}"
    );
    assert_eq!(b.events("message.receive").await.len(), 2);

    b.post("/api/v1/session/end", json!({"call_id": "c1"}))
        .await;
    // Sent 90 s after the end: `timestamp` is the request's time, not the end's (seed 002).
    b.app.clock.advance(Span::seconds(90));
    let ended = b.events("session.end").await;
    assert_eq!(ended.len(), 1);
    let end = &ended[0];
    let end_time = chrono::DateTime::parse_from_rfc3339(end["session_end_time"].as_str().unwrap())
        .unwrap()
        .timestamp();
    assert_eq!(end["timestamp"], b.app.clock.now().timestamp());
    assert_eq!(end["timestamp"].as_i64().unwrap() - end_time, 90);
    assert_eq!(end["status"], "closed");
    assert_eq!(end["session_end_reason"], "agent");
    assert_eq!(end["intention"], "E");
    assert_eq!(end["robot_id"], b.robot["robot_id"]);
    assert_eq!(end["talk_round"], 5, "five answers before the hand-off");
    assert_eq!(end["ner_slots"]["gender"], "男");
    assert!(end["session_start_time"].as_str().unwrap().ends_with('Z'));
    let transcript = end["messages"].as_array().unwrap();
    assert_eq!(transcript.len(), b.messages("c1").await.len());
    assert_eq!(
        transcript.last().unwrap()["content"]["system"]["type"],
        "conversation.close"
    );
    let close = b.events("session.close").await;
    assert_eq!(close[0]["conclusion"]["session_end_reason"], "agent");
    assert_eq!(close[0]["conclusion"]["output_label"], "E");
}

#[tokio::test]
async fn a_refused_transfer_goes_where_the_flow_says() {
    let b = Bot::start(LOGISTICS).await;
    b.text("c1", "hi").await;
    b.text("c1", "agent please").await;
    b.text("c1", "are you there?").await;
    assert_eq!(
        b.app.turns().await,
        1,
        "one turn reads every waiting message"
    );
    assert_eq!(b.session("c1").await["status"], "pending_agent");
    // What the robot did not read before handing off goes to the agent side.
    let forwarded = b.events("message.receive").await;
    assert_eq!(forwarded.len(), 1);
    assert_eq!(
        forwarded[0]["messages"][0]["content"]["text"],
        "are you there?"
    );
    let r = b
        .app
        .post_signed(
            &b.t,
            "/api/v1/session/transfer/result",
            &json!({"call_id": "c1", "result": "accepted"}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    let back = b
        .post(
            "/api/v1/session/transfer/result",
            json!({"call_id": "c1", "result": "refused"}),
        )
        .await;
    assert_eq!(back["status"], "closed");
    assert_eq!(back["session_end_reason"], "robot");
    let said: Vec<String> = b.messages("c1").await.iter().map(text_of).collect();
    assert!(
        said.contains(&"人工客服繁忙，请稍后再试。".to_owned()),
        "{said:?}"
    );
    assert_eq!(
        b.events("session.end").await[0]["session_end_reason"],
        "robot"
    );

    // Nothing waits for an agent any more.
    let again = b
        .app
        .post_signed(
            &b.t,
            "/api/v1/session/transfer/result",
            &json!({"call_id": "c1", "result": "timeout"}).to_string(),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
}

#[tokio::test]
async fn idle_sessions_expire_with_the_end_callbacks() {
    let b = Bot::start(LOGISTICS).await;
    b.text("c1", "hi").await;
    b.app.turns().await;
    b.app.clock.advance(Span::hours(23));
    b.text("c2", "hi").await;
    assert_eq!(
        b.app.robots.expire_idle().await.unwrap(),
        0,
        "24 hours is the default"
    );
    b.app.clock.advance(Span::hours(2));
    assert_eq!(b.app.robots.expire_idle().await.unwrap(), 1);
    let c1 = b.session("c1").await;
    assert_eq!(
        (c1["status"].as_str(), c1["session_end_reason"].as_str()),
        (Some("closed"), Some("expire"))
    );
    assert_eq!(b.session("c2").await["status"], "bot");
    let metrics = b.app.get("/metrics").await.text;
    assert!(
        metrics.contains("tiller_sessions_expired_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"tiller_robot_turns_total{outcome="ran"} 1"#),
        "{metrics}"
    );
    let ended = b.events("session.end").await;
    assert_eq!(ended.len(), 1);
    assert_eq!(
        (
            ended[0]["call_id"].as_str(),
            ended[0]["session_end_reason"].as_str()
        ),
        (Some("c1"), Some("expire"))
    );
}

#[tokio::test]
async fn definitions_are_validated_with_line_numbers() {
    let b = Bot::start(LOGISTICS).await;
    let bad = "name: x\nstart: a\nnodes:\n  a:\n    say: [hi]\n    goto: nowhere\n";
    let r = b
        .app
        .post_signed(
            &b.t,
            "/api/v1/robot/create",
            &json!({"definition": bad}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let message = r.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("line 6") && message.contains("nowhere"),
        "{message}"
    );

    let list = b.post("/api/v1/robot/list", json!({})).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing stored");
    let detail = b
        .post(
            "/api/v1/robot/detail",
            json!({"robot_id": b.robot["robot_id"]}),
        )
        .await;
    assert_eq!(detail["definition"], LOGISTICS);
    assert_eq!(detail["default"], true);

    // Another tenant sees none of it.
    let other = b.app.tenant("Other").await;
    let r = b
        .app
        .post_signed(
            &other,
            "/api/v1/robot/detail",
            &json!({"robot_id": b.robot["robot_id"]}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = b
        .app
        .post_signed(
            &other,
            "/api/v1/channel/chatbot/message",
            &json!({"call_id": "x", "channel_id": "c", "user": {"id": "1"}, "robot_id": b.robot["robot_id"],
                "messages": [{"type": "text", "text": "hi"}]})
            .to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

const ECHO: &str = "name: echo\nstart: listen\nnodes:\n  listen:\n    capture: {slot: said, kind: text, goto: reply}\n  reply:\n    say: [\"{{said}}\"]\n    goto: listen\n";

#[tokio::test]
async fn concurrent_messages_on_one_session_are_answered_once_each_in_order() {
    let b = Bot::start_with(ECHO, |cfg| cfg.robots.inline_turns = true).await;
    b.text("c1", "open").await;
    let sends = (1..=12).map(|i| {
        let b = &b;
        async move { b.text("c1", &format!("m{i}")).await }
    });
    futures_util::future::join_all(sends).await;
    // Inline turns run in the background; the worker pass picks up anything still due.
    let mut robot = Vec::new();
    for _ in 0..200 {
        b.app.turns().await;
        let all = b.messages("c1").await;
        robot = all
            .iter()
            .filter(|m| m["sender_type"] == "robot")
            .map(text_of)
            .collect();
        if robot.len() >= 12 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let users: Vec<String> = b
        .messages("c1")
        .await
        .iter()
        .filter(|m| m["sender_type"] == "user")
        .skip(1)
        .map(text_of)
        .collect();
    assert_eq!(
        robot, users,
        "each message answered once, in the order stored"
    );
}

#[tokio::test]
async fn a_turn_left_by_a_crashed_node_is_answered_once_its_lease_runs_out() {
    use tiller_core::{conversations::CallId, Clock as _};
    let b = Bot::start(LOGISTICS).await;
    b.text("c1", "hi").await;
    // Another node claimed the turn, then died before committing anything.
    let now = b.app.clock.now();
    let c1 = CallId::parse("c1").unwrap();
    let held = b
        .app
        .store
        .claim_turn(b.t.id, &c1, "dead-node", now, now + Span::seconds(30))
        .await
        .unwrap();
    assert!(held.is_some());
    assert_eq!(b.app.turns().await, 0, "its lease still runs");
    b.app.clock.advance(Span::seconds(31));
    assert_eq!(b.app.turns().await, 1);
    assert_eq!(b.app.turns().await, 0, "answered once");
    let all = b.messages("c1").await;
    let kinds: Vec<&str> = all
        .iter()
        .map(|m| m["sender_type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["system", "user", "robot", "robot"]);
    assert_eq!(b.events("message.send").await.len(), 1);
}
