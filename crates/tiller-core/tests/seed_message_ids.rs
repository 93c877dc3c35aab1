//! Robot reply ids as the seed pages number them: the messages of one reply share a
//! 32-hex turn id and end in `-0`, `-1`, … in order.

use std::collections::BTreeMap;

use serde_json::Value;
use tiller_core::conversations::turn_message_id as reply_msg_id;
use tiller_testkit::examples;

/// Every robot message id of the seeds, grouped by turn, in document order.
fn seed_reply_groups() -> BTreeMap<String, Vec<String>> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if map.get("sender_type").and_then(Value::as_str) == Some("robot") {
                    if let Some(id) = map.get("msg_id").and_then(Value::as_str) {
                        out.push(id.to_owned());
                    }
                }
                map.values().for_each(|c| walk(c, out));
            }
            Value::Array(items) => items.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    let mut ids = Vec::new();
    for source in examples::sources() {
        source.documents.iter().for_each(|d| walk(d, &mut ids));
    }
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for id in ids {
        if let Some((turn, _)) = id.rsplit_once('-') {
            if turn.len() == 32 && turn.bytes().all(|b| b.is_ascii_hexdigit()) {
                let group = groups.entry(turn.to_owned()).or_default();
                if !group.contains(&id) {
                    group.push(id);
                }
            }
        }
    }
    groups
}

#[test]
fn robot_reply_ids_count_from_zero_like_the_seeds() {
    let groups = seed_reply_groups();
    let whole: Vec<_> = groups.iter().filter(|(_, ids)| ids.len() >= 2).collect();
    assert!(
        !whole.is_empty(),
        "the seeds show replies of several messages"
    );
    for (turn, ids) in whole {
        let mut sorted = ids.clone();
        sorted.sort_by_key(|id| {
            id.rsplit_once('-')
                .and_then(|(_, n)| n.parse::<usize>().ok())
        });
        let ours: Vec<String> = (0..sorted.len()).map(|n| reply_msg_id(turn, n)).collect();
        assert_eq!(sorted, ours, "turn {turn}");
    }
    assert_eq!(
        reply_msg_id("c38dba25208d40e8a97916dcfc6e2bb1", 0),
        "c38dba25208d40e8a97916dcfc6e2bb1-0"
    );
}
