//! Every message-shaped JSON example in the AIRUDDER spec and in the seed pages reads into
//! the message model and writes back to an equal JSON value.
//!
//! Nothing is hand-copied: the examples are pulled out of the files at test time.
//! - spec: fenced ```json blocks, and inline `{…}` code spans (the §1.3 catalogue table);
//! - seeds (text dumps of web pages): every balanced `{…}` span that parses as JSON.
//!
//! Documents that are not valid JSON (`{…}` ellipses, `a | b` alternatives) are skipped, so
//! the test asserts floors on how many documents, contents and messages it did check.

use std::{fs, path::Path};

use serde_json::Value;
use tiller_core::messages::{Content, Message, Reply, WaTemplate};

const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/spec/airudder-api.md"
);
const SEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/seeds");

/// Floors a little below what the current files give: 58 documents (41 in the spec),
/// 84 contents, 55 messages, 9 replies, 1 template body. Raise them when examples are added.
const MIN_DOCUMENTS: usize = 55;
const MIN_SPEC_DOCUMENTS: usize = 38;
const MIN_CONTENTS: usize = 80;
const MIN_MESSAGES: usize = 50;
const MIN_REPLIES: usize = 8;

/// The values found in one source file, with where they came from.
struct Source {
    name: String,
    documents: Vec<Value>,
}

fn spec_source() -> Source {
    let text = fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("read {SPEC}: {e}"));
    let mut documents = Vec::new();
    let mut fence: Option<(bool, String)> = None; // (is a json fence, body so far)
    for line in text.lines() {
        if let Some(info) = line.trim_start().strip_prefix("```") {
            match fence.take() {
                Some((true, body)) => documents.extend(balanced_objects(&body)),
                Some((false, _)) => {}
                None => fence = Some((info.trim() == "json", String::new())),
            }
            continue;
        }
        match &mut fence {
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => documents.extend(inline_objects(line)),
        }
    }
    Source {
        name: "spec/airudder-api.md".to_owned(),
        documents,
    }
}

/// Inline code spans that hold one JSON object. In a table row `\|` is an escaped pipe.
fn inline_objects(line: &str) -> Vec<Value> {
    let line = if line.starts_with('|') {
        line.replace("\\|", "|")
    } else {
        line.to_owned()
    };
    line.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with('{'))
        .filter_map(|span| serde_json::from_str(span).ok())
        .collect()
}

fn seed_sources() -> Vec<Source> {
    let mut paths: Vec<_> = fs::read_dir(SEEDS)
        .unwrap_or_else(|e| panic!("read {SEEDS}: {e}"))
        .map(|entry| entry.expect("seed dir entry").path())
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|path| Source {
            name: file_name(path),
            documents: balanced_objects(&fs::read_to_string(path).expect("seed is UTF-8 text")),
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every outermost balanced `{…}` span of `text` that parses as JSON. A span that does not
/// parse is skipped one character at a time, so valid objects nested in it are still found.
fn balanced_objects(text: &str) -> Vec<Value> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut start = 0;
    while let Some(offset) = text[start..].find('{') {
        let open = start + offset;
        match matching_brace(bytes, open).and_then(|close| {
            serde_json::from_str::<Value>(&text[open..=close])
                .ok()
                .map(|v| (close, v))
        }) {
            Some((close, value)) => {
                found.push(value);
                start = close + 1;
            }
            None => start = open + 1,
        }
    }
    found
}

/// The index of the `}` closing the `{` at `open`, skipping braces inside JSON strings.
fn matching_brace(bytes: &[u8], open: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0_usize, false, false);
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
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
fn example_paths_resolve() {
    assert!(Path::new(SPEC).is_file(), "{SPEC} missing");
    assert!(Path::new(SEEDS).is_dir(), "{SEEDS} missing");
}

#[test]
fn every_spec_and_seed_example_round_trips() {
    let mut sources = vec![spec_source()];
    sources.extend(seed_sources());
    assert_eq!(sources.len(), 6, "the spec and five seeds");

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
