//! Every message-shaped JSON example in the AIRUDDER spec and in the seed pages reads into
//! the message model and writes back to an equal JSON value.
//!
//! Nothing is hand-copied: the examples are the in-repository fixtures of
//! `tiller_testkit::examples`, extracted from the documents and checked against them by
//! `.ci/run`.
//!
//! Documents that are not valid JSON (`{…}` ellipses, `a | b` alternatives) are skipped, so
//! the test asserts floors on how many documents, contents and messages it did check.

use serde_json::Value;
use tiller_core::messages::{Content, Message, Reply, WaTemplate};
use tiller_testkit::examples;

/// Floors a little below what the current files give: 58 documents (41 in the spec),
/// 84 contents, 55 messages, 9 replies, 1 template body. Raise them when examples are added.
const MIN_DOCUMENTS: usize = 55;
const MIN_SPEC_DOCUMENTS: usize = 38;
const MIN_CONTENTS: usize = 80;
const MIN_MESSAGES: usize = 50;
const MIN_REPLIES: usize = 8;

/// The AIRUDDER spec and the five seed pages (the nxlink spec holds no message shapes).
fn sources() -> Vec<examples::Source> {
    examples::sources()
        .into_iter()
        .filter(|s| s.name != "spec-nxlink-api")
        .collect()
}

/// Where an object sits in its document, which decides what it is read as.
#[derive(Clone, Copy, PartialEq)]
enum Position<'a> {
    Top,
    Key(&'a str),
    Item(&'a str),
    /// Under `reply` in a message or a content (not a button's `reply` option).
    Reply,
}

#[derive(Default)]
struct Found {
    /// With whether the object is a document's top level.
    contents: Vec<(String, Value, bool)>,
    messages: Vec<(String, Value)>,
    replies: Vec<(String, Value)>,
    /// A WhatsApp template body quoted on its own (the §1.3 carousel `wa_content`).
    wa_templates: Vec<(String, Value)>,
}

/// Collects, recursively: messages (`msg_id` + `content`), their replies, contents (a
/// string `type` under `content` or in `messages`, or at the top of a document), and
/// WhatsApp template bodies quoted at the top of a document (they have a `subcate`).
fn collect<'a>(value: &'a Value, at: Position<'a>, path: &str, found: &mut Found) {
    match value {
        Value::Object(map) => {
            let entry = (path.to_owned(), value.clone());
            let holds_reply = if at == Position::Reply {
                found.replies.push(entry);
                false
            } else if map.contains_key("msg_id") && map.contains_key("content") {
                found.messages.push(entry);
                true
            } else if map.get("type").is_some_and(Value::is_string)
                && matches!(
                    at,
                    Position::Top | Position::Key("content") | Position::Item("messages")
                )
            {
                found.contents.push((entry.0, entry.1, at == Position::Top));
                true
            } else if at == Position::Top && map.contains_key("subcate") {
                found.wa_templates.push(entry);
                false
            } else {
                false
            };
            for (key, child) in map {
                let at = if holds_reply && key == "reply" {
                    Position::Reply
                } else {
                    Position::Key(key)
                };
                collect(child, at, &format!("{path}.{key}"), found);
            }
        }
        Value::Array(items) => {
            let Position::Key(key) = at else { return };
            for (i, item) in items.iter().enumerate() {
                collect(item, Position::Item(key), &format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

fn round_trip<T>(value: &Value) -> Result<Value, String>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| format!("read: {e}"))?;
    serde_json::to_value(&typed).map_err(|e| format!("write: {e}"))
}

/// The one documented normalisation: message `status` `"send"` is written as `"sent"`.
/// Returns how many were rewritten.
fn normalise_send_status(value: &mut Value) -> usize {
    match value {
        Value::Object(map) => {
            let mut n = 0;
            if map.contains_key("msg_id") && map.get("status") == Some(&Value::from("send")) {
                map.insert("status".to_owned(), Value::from("sent"));
                n += 1;
            }
            n + map.values_mut().map(normalise_send_status).sum::<usize>()
        }
        Value::Array(items) => items.iter_mut().map(normalise_send_status).sum(),
        _ => 0,
    }
}

#[test]
fn every_spec_and_seed_example_round_trips() {
    let sources = sources();
    assert_eq!(sources.len(), 6, "the spec and five seeds");
    assert_eq!(sources[0].name, "spec-airudder-api");

    let mut found = Found::default();
    let mut documents = 0;
    for source in &sources {
        println!("{}: {} JSON documents", source.name, source.documents.len());
        assert!(
            !source.documents.is_empty(),
            "no JSON found in {}",
            source.name
        );
        documents += source.documents.len();
        for (i, doc) in source.documents.iter().enumerate() {
            collect(
                doc,
                Position::Top,
                &format!("{}#{i}", source.name),
                &mut found,
            );
        }
    }

    let mut failures = Vec::new();
    let mut normalised = 0;
    let mut contents = 0;
    for (path, value, at_top) in &found.contents {
        match serde_json::from_value::<Content>(value.clone()) {
            // A top-level object is only a content if its `type` is a content type
            // (`{"type":"single"}` is a list request).
            Ok(Content::Other(_)) if *at_top => continue,
            Ok(Content::Other(_)) => failures.push(format!("{path}: unknown content type {value}")),
            _ => {}
        }
        contents += 1;
        check::<Content>(path, value, &mut failures);
    }
    for (path, value) in &found.messages {
        let mut expected = value.clone();
        normalised += normalise_send_status(&mut expected);
        match round_trip::<Message>(value) {
            Ok(back) if back == expected => {}
            Ok(back) => failures.push(format!("{path}:\n  in:  {value}\n  out: {back}")),
            Err(e) => failures.push(format!("{path}: {e}\n  in: {value}")),
        }
    }
    for (path, value) in &found.replies {
        check::<Reply>(path, value, &mut failures);
    }
    for (path, value) in &found.wa_templates {
        check::<WaTemplate>(path, value, &mut failures);
    }

    println!(
        "{documents} documents; round-tripped {contents} contents, {} messages ({normalised} \
         with status \"send\" normalised to \"sent\"), {} replies, {} template bodies",
        found.messages.len(),
        found.replies.len(),
        found.wa_templates.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        documents >= MIN_DOCUMENTS,
        "only {documents} JSON documents found"
    );
    let spec_documents = sources[0].documents.len();
    assert!(
        spec_documents >= MIN_SPEC_DOCUMENTS,
        "only {spec_documents} in the spec"
    );
    assert!(
        !found.wa_templates.is_empty(),
        "the carousel template body was not seen"
    );
    assert!(contents >= MIN_CONTENTS, "only {contents} contents found");
    assert!(
        found.messages.len() >= MIN_MESSAGES,
        "only {} messages",
        found.messages.len()
    );
    assert!(
        found.replies.len() >= MIN_REPLIES,
        "only {} replies",
        found.replies.len()
    );
    assert!(normalised >= 1, "the \"send\" status example was not seen");
}

fn check<T>(path: &str, value: &Value, failures: &mut Vec<String>)
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    match round_trip::<T>(value) {
        Ok(back) if back == *value => {}
        Ok(back) => failures.push(format!("{path}:\n  in:  {value}\n  out: {back}")),
        Err(e) => failures.push(format!("{path}: {e}\n  in: {value}")),
    }
}
