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
