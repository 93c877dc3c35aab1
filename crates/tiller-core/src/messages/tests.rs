//! Unit tests of the message model's serde rules. The spec and seed examples are
//! round-tripped by `tests/spec_examples.rs`; these pin the individual decisions.

use serde_json::{json, Value};

use super::*;

fn content(value: &Value) -> Content {
    serde_json::from_value(value.clone()).expect("content parses")
}

fn assert_round_trips(value: &Value) -> Content {
    let parsed = content(value);
    assert_eq!(&serde_json::to_value(&parsed).unwrap(), value);
    parsed
}

#[test]
fn unknown_content_type_is_kept_whole() {
    let raw =
        json!({"type": "sticker", "sticker": {"id": "s1", "animated": true}, "caption": null});
    let parsed = assert_round_trips(&raw);
    assert_eq!(parsed, Content::Other(raw));
    assert_eq!(parsed.kind(), "sticker");
    assert_eq!(parsed.text(), None);
}

#[test]
fn known_type_with_a_malformed_body_is_an_error() {
    for bad in [
        json!({"type": "image", "media": "https://x"}),
        json!({"type": "text", "text": 5}),
        json!({"text": "no type"}),
        json!({"type": 7}),
        json!("text"),
    ] {
        assert!(
            serde_json::from_value::<Content>(bad.clone()).is_err(),
            "{bad} accepted"
        );
    }
}

#[test]
fn kind_matches_the_written_type() {
    for kind in [
        "text",
        "image",
        "video",
        "audio",
        "file",
        "location",
        "contacts",
        "interactive",
        "button",
        "template",
        "system",
    ] {
        let parsed = assert_round_trips(&json!({ "type": kind }));
        assert!(!matches!(parsed, Content::Other(_)), "{kind} read as Other");
        assert_eq!(parsed.kind(), kind);
    }
}

#[test]
fn send_status_is_read_as_sent_and_written_as_sent() {
    let raw = json!({"msg_id": "m-1", "status": "send", "sender_type": "robot",
        "timestamp": 1_730_697_561, "content": {"type": "text", "text": "hi"}});
    let message: Message = serde_json::from_value(raw).unwrap();
    assert_eq!(message.status, Some(MessageStatus::Sent));
    assert_eq!(message.seat_id, None);
    let written = serde_json::to_value(&message).unwrap();
    assert_eq!(written["status"], "sent");
    assert!(
        written.get("seat_id").is_none(),
        "an absent seat_id stays absent"
    );
}

#[test]
fn sender_types_include_chatbot_and_agent_system() {
    for (wire, typed) in [
        ("chatbot", SenderType::Chatbot),
        ("agent_system", SenderType::AgentSystem),
    ] {
        assert_eq!(
            serde_json::from_value::<SenderType>(json!(wire)).unwrap(),
            typed
        );
        assert_eq!(typed.as_str(), wire);
    }
    assert!(serde_json::from_value::<SenderType>(json!("bot")).is_err());
}

#[test]
fn inline_reply_inside_content_is_kept() {
    let raw = json!({"type": "text", "text": "ok",
        "reply": {"type": "text", "text": "welcome to J&T"}});
    let parsed = assert_round_trips(&raw);
    assert_eq!(parsed.text(), Some("ok"));
    let reply = parsed.reply().expect("inline reply");
    assert_eq!(reply.msg_id(), None);
    assert_eq!(reply.content().text(), Some("welcome to J&T"));
}

#[test]
fn message_replies_come_in_full_and_flattened_form() {
    let full = json!({"msg_id": "u1", "sender_type": "user", "timestamp": 2, "status": "read",
        "content": {"type": "button", "text": "no"},
        "reply": {"msg_id": "t1", "sender_type": "chatbot", "timestamp": 1,
            "content": {"type": "template", "template": {"type": "WhatsApp"}}}});
    let flat = json!({"msg_id": "u2", "seat_id": "", "sender_type": "user", "timestamp": 3,
        "status": "delivery", "content": {"type": "interactive", "text": "女"},
        "reply": {"msg_id": "b1", "type": "interactive", "interactive": {"type": "button"}}});
    for raw in [full, flat] {
        let message: Message = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(serde_json::to_value(&message).unwrap(), raw);
        let reply = message.reply.as_deref().expect("reply");
        assert!(reply.msg_id().is_some());
        assert!(matches!(reply.content().kind(), "template" | "interactive"));
    }
}

#[test]
fn interactive_button_ids_and_user_selection() {
    let prompt = assert_round_trips(&json!({"type": "interactive", "interactive": {
        "type": "button", "body": {"text": "gender?"}, "footer": {"text": ""},
        "action": {"buttons": [
            {"type": "reply", "reply": {"id": "0b83-2-1-button-0-", "title": "男"}},
            {"type": "reply", "reply": {"id": "0b83-2-1-button-1-", "title": "女"}}]}}}));
    let Content::Interactive(body) = &prompt else {
        panic!("not interactive: {prompt:?}")
    };
    let interactive = body.interactive().expect("interactive object");
    assert_eq!(interactive.kind, Some(InteractiveKind::Button));
    let ids: Vec<_> = interactive
        .options()
        .filter_map(|c| c.id.as_deref())
        .collect();
    assert_eq!(ids, ["0b83-2-1-button-0-", "0b83-2-1-button-1-"]);

    let pick = assert_round_trips(&json!({"type": "interactive", "interactive": {
        "type": "list_reply", "list_reply": {"id": "0b83-3-1-list-0-1-", "title": "网点查询"}}}));
    let Content::Interactive(body) = &pick else {
        panic!("not interactive: {pick:?}")
    };
    let interactive = body.interactive().expect("interactive object");
    assert_eq!(interactive.kind, Some(InteractiveKind::ListReply));
    assert_eq!(
        interactive.selection().and_then(|c| c.id.as_deref()),
        Some("0b83-3-1-list-0-1-")
    );

    let stored = assert_round_trips(&json!({"type": "interactive", "text": "男"}));
    assert_eq!(stored.text(), Some("男"));
}

#[test]
fn whatsapp_carousel_template() {
    let card = |n: u8| {
        json!({"header": {"type": "image", "media": {"origin_url": format!("https://x/{n}.jpg")}},
        "body": format!("card {n}"), "footer": "",
        "buttons": [{"type": "quick_reply", "text": format!("join{n}")}]})
    };
    let raw = json!({"type": "template", "template": {"type": "WhatsApp",
        "wa_content": {"category": "marketing", "subcate": "carousel", "body": "party",
            "carousel": [card(1), card(2)]},
        "info": {"id": 74, "name": "carousel_ttt_001", "language": "en"}}});
    let parsed = assert_round_trips(&raw);
    let Content::Template(body) = &parsed else {
        panic!("not a template: {parsed:?}")
    };
    let template = body.template.as_deref().expect("template");
    assert_eq!(template.channel, Some(TemplateChannel::WhatsApp));
    assert_eq!(template.info.as_ref().and_then(|i| i.id), Some(74));
    let cards = template
        .whatsapp()
        .and_then(|wa| wa.carousel.as_deref())
        .expect("carousel");
    assert_eq!(cards.len(), 2);
    assert_eq!(cards[1].header.as_deref().map(Content::kind), Some("image"));
    assert_eq!(
        cards[1].buttons.as_deref().unwrap()[0].text.as_deref(),
        Some("join2")
    );
}

#[test]
fn documented_nulls_are_kept() {
    let parsed = assert_round_trips(&json!({"type": "image", "text": "caption", "media": null}));
    let Content::Image(body) = &parsed else {
        panic!("not an image: {parsed:?}")
    };
    assert_eq!(body.media, Some(None));
    assert_eq!(body.media(), None);
    assert_eq!(body.extra.get("text"), Some(&json!("caption")));

    assert_round_trips(
        &json!({"type": "text", "text": "hi", "media": null, "location": null,
        "interactive": null}),
    );
    assert_round_trips(&json!({"type": "location", "location": null}));
    assert_round_trips(&json!({"type": "interactive", "interactive": null}));
    assert_round_trips(&json!({"type": "template", "template": {"type": "Line",
        "line_content": {"type": "buttons", "text": "pick", "actions": null, "columns": null}}}));
}

#[test]
fn integer_coordinates_stay_integers() {
    let parsed = assert_round_trips(
        &json!({"type": "location", "location": {"latitude": 31, "longitude": 121.5}}),
    );
    let Content::Location(body) = &parsed else {
        panic!("not a location: {parsed:?}")
    };
    let location = body.location().expect("location");
    assert_eq!(location.latitude_f64(), Some(31.0));
    assert_eq!(location.longitude_f64(), Some(121.5));
}

#[test]
fn system_events_and_unlisted_system_event_names() {
    let parsed = assert_round_trips(&json!({"type": "system", "system": {
        "type": "conversation.take_over", "from_seat_id": "", "to_seat_id": "agent-7"}}));
    let Content::System(body) = &parsed else {
        panic!("not system: {parsed:?}")
    };
    let event = body.system.as_ref().expect("system event");
    assert_eq!(event.kind, SystemEventKind::TakeOver);
    assert_eq!(event.to_seat_id.as_deref(), Some("agent-7"));

    let other: SystemEventKind = serde_json::from_value(json!("conversation.transfer")).unwrap();
    assert_eq!(other.as_str(), "conversation.transfer");
}

#[test]
fn plain_text_constructor_writes_the_flattened_form() {
    let written = serde_json::to_string(&Content::plain_text("hi")).unwrap();
    assert_eq!(written, r#"{"type":"text","text":"hi"}"#);
}
