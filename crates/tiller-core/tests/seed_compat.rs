//! The rules behind issue 11's compatibility fixes, checked against the seed pages' own
//! examples (the in-repository fixtures of `tiller_testkit::examples`), field by field.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tiller_core::conversations::turn_message_id;
use tiller_testkit::examples;

/// Every object with a `msg_id` and a `sender_type` in the seed pages (messages and full
/// replies), depth first.
fn seed_messages() -> Vec<Value> {
    fn walk(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Object(map) => {
                if map.contains_key("msg_id") && map.contains_key("sender_type") {
                    out.push(v.clone());
                }
                for c in map.values() {
                    walk(c, out);
                }
            }
            Value::Array(items) => {
                for c in items {
                    walk(c, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for n in ["000", "001", "002", "003", "004"] {
        for d in &examples::seed(n) {
            walk(d, &mut out);
        }
    }
    out
}

/// Item 3: a robot reply of several messages is numbered `<id>-0`, `<id>-1`, ….
#[test]
fn robot_reply_ids_count_from_zero_as_in_the_seeds() {
    let mut turns: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for m in seed_messages() {
        if m["sender_type"] != "robot" {
            continue;
        }
        let id = m["msg_id"].as_str().unwrap();
        if let Some((turn, n)) = id.rsplit_once('-') {
            if let Ok(n) = n.parse::<usize>() {
                assert_eq!(turn_message_id(turn, n), id);
                turns.entry(turn.to_owned()).or_default().insert(n);
            }
        }
    }
    let whole: Vec<_> = turns.values().filter(|ns| ns.len() > 1).collect();
    assert!(whole.len() >= 2, "the seeds show whole turns: {turns:?}");
    for ns in whole {
        assert_eq!(ns.iter().next(), Some(&0), "{turns:?}");
        assert_eq!(ns.len(), ns.iter().last().unwrap() + 1, "numbers are dense");
    }
}

/// The nxlink chat records of seed 004 (`list` items of its answers).
fn seed_004_records() -> Vec<Value> {
    examples::seed("004")
        .iter()
        .filter_map(|d| d["list"].as_array().cloned())
        .flatten()
        .collect()
}

/// Item 4: the media record's `mime_type` follows from its file name when the link has no
/// extension.
#[test]
fn media_mime_type_is_derived_as_seed_004_shows() {
    use tiller_core::files::media_mime_type;
    let with_media: Vec<Value> = seed_004_records()
        .into_iter()
        .filter(|r| r.get("media_link").is_some())
        .collect();
    assert!(!with_media.is_empty());
    for r in with_media {
        let derived = media_mime_type(r["media_link"].as_str(), r["filename"].as_str());
        assert_eq!(derived, r["mime_type"].as_str(), "{r}");
    }
}

/// Item 7: seed 002's `session.end`, rebuilt from a session with the seed's values, agrees
/// field by field; `timestamp` is the send time and `variables` the session's.
#[test]
fn session_end_matches_seed_002_field_by_field() {
    use chrono::DateTime;
    use tiller_core::{
        conversations::{
            session_end_events, CallId, ChatUser, Conclusion, EndReason, Session, SessionState,
        },
        webhooks::payload_at_send,
        TenantId,
    };
    let want = examples::find("seed-002", |d| {
        d.get("session_end_reason").is_some() && d.get("variables").is_some()
    });
    let time = |k: &str| {
        DateTime::parse_from_rfc3339(want[k].as_str().unwrap())
            .unwrap()
            .to_utc()
    };
    let session = Session {
        tenant: TenantId(1),
        call_id: CallId::parse(want["call_id"].as_str().unwrap()).unwrap(),
        channel: want["channel"].as_str().unwrap().into(),
        channel_id: want["channel_id"].as_str().unwrap().into(),
        user: ChatUser::default(),
        state: SessionState::Closed,
        end_reason: EndReason::parse(want["session_end_reason"].as_str().unwrap()),
        seat_id: None,
        started_at: time("session_start_time"),
        ended_at: Some(time("session_end_time")),
        updated_at: time("session_end_time"),
        report: None,
        robot_id: want["robot_id"].as_str().map(str::to_owned),
        robot_state: None,
        answered_seq: 0,
        turn_due: None,
        state_version: 1,
        variables: want["variables"].as_object().unwrap().clone(),
    };
    let conclusion = Conclusion {
        record_slots: want["ner_slots"].as_object().unwrap().clone(),
        output_label: want["intention"].as_str().unwrap().into(),
        event_label: want["event_label"].as_object().unwrap().clone(),
        talk_round: want["talk_round"].as_u64().unwrap(),
    };
    let events = session_end_events("acme", &session, &conclusion, &[]);
    let end = events
        .iter()
        .find(|e| e.event_type == "session.end")
        .unwrap();
    // Stored with the end time; each attempt stamps its own send time.
    let sent_at = want["timestamp"].as_i64().unwrap() + 60;
    let got = payload_at_send(&end.event_type, &end.payload, sent_at);
    assert_eq!(got["timestamp"], sent_at);
    for field in [
        "call_id",
        "channel",
        "channel_id",
        "robot_id",
        "status",
        "session_start_time",
        "session_end_time",
        "session_end_reason",
        "intention",
        "talk_round",
        "ner_slots",
        "event_label",
        "variables",
    ] {
        assert_eq!(got[field], want[field], "{field}");
    }
}

/// Item 1: every user pick the seeds list (an interactive choice or a template button tap,
/// with a message-level `reply`) is what Tiller lists for the inbound pick answering that
/// prompt: the same `content` and the same `reply`, in the list API's flat shape (seed 000)
/// or the callbacks' full shape (seed 002).
#[test]
fn picks_are_listed_as_in_seeds_000_and_002() {
    use serde_json::json;
    use tiller_core::messages::{answered_message, listed, reply_to, Message, ReplyShape};
    let mut checked = (0, 0);
    for (seed, shape) in [("000", ReplyShape::Flat), ("002", ReplyShape::Full)] {
        let mut all = Vec::new();
        for d in &examples::seed(seed) {
            if let Some(items) = d.as_array() {
                all.extend(items.iter().cloned());
            }
            if let Some(items) = d["messages"].as_array() {
                all.extend(items.iter().cloned());
            }
        }
        for want in all
            .iter()
            .filter(|m| m["sender_type"] == "user" && m.get("reply").is_some())
        {
            let kind = want["content"]["type"].as_str().unwrap_or_default();
            if kind != "interactive" && kind != "button" {
                continue;
            }
            let reply = &want["reply"];
            let prompt_content = if shape == ReplyShape::Flat {
                let mut c = reply.clone();
                c.as_object_mut().unwrap().remove("msg_id");
                c
            } else {
                reply["content"].clone()
            };
            let prompt: Message = serde_json::from_value(json!({
                "msg_id": reply["msg_id"], "sender_type": reply.get("sender_type").unwrap_or(&json!("robot")),
                "timestamp": reply.get("timestamp").unwrap_or(&json!(0)), "content": prompt_content}))
            .unwrap();
            let title = want["content"]["text"].as_str().unwrap();
            let inbound = if kind == "button" {
                json!({"type": "button", "text": title})
            } else {
                let options = prompt_content["interactive"]["action"].clone();
                let ids: Vec<(String, String)> = options["buttons"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|b| &b["reply"])
                    .chain(
                        options["sections"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .flat_map(|s| s["rows"].as_array().unwrap().iter()),
                    )
                    .map(|o| {
                        (
                            o["id"].as_str().unwrap().to_owned(),
                            o["title"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect();
                let id = ids
                    .iter()
                    .find(|(_, t)| t == title)
                    .unwrap_or(&ids[0])
                    .0
                    .clone();
                let kind = if id.contains("-list-") {
                    "list_reply"
                } else {
                    "button_reply"
                };
                json!({"type": "interactive", "interactive": {"type": kind, kind: {"id": id, "title": title}}})
            };
            let mut user: Message = serde_json::from_value(json!({"msg_id": want["msg_id"],
                "sender_type": "user", "timestamp": want["timestamp"], "content": inbound}))
            .unwrap();
            let recent = [prompt.clone()];
            let answered =
                answered_message(&user.content, &recent).expect("the pick answers the prompt");
            assert_eq!(answered.msg_id, prompt.msg_id);
            user.reply = Some(Box::new(reply_to(answered)));
            let got = serde_json::to_value(listed(&user, shape)).unwrap();
            assert_eq!(got["content"], want["content"], "seed {seed}: {want}");
            assert_eq!(got["reply"], want["reply"], "seed {seed}: {want}");
            if kind == "button" {
                checked.1 += 1;
            } else {
                checked.0 += 1;
            }
        }
    }
    assert!(checked.0 >= 3 && checked.1 >= 1, "{checked:?}");
}
