//! The JSON examples of the upstream documents (the AIRUDDER and nxlink specs, the five
//! seed pages), as fixture files inside the repository.
//!
//! They were extracted once from `../shared/` by [`extract`]; the test
//! `tests/fixtures_match_documents.rs` (run by `.ci/run`, where `../shared` exists) checks
//! that they still match the documents and rewrites them with `TILLER_WRITE_FIXTURES=1`.
//! Suites read them through [`sources`] and [`seed`], so a clone passes its tests with
//! nothing beside it.
//!
//! What counts as a document:
//! - specs: fenced ```json blocks, and inline `{…}` code spans (the §1.3 catalogue table);
//! - seeds (text dumps of web pages): every balanced `{…}` span that parses as JSON.

use std::{fs, io, path::Path};

use serde_json::Value;

/// The JSON documents found in one upstream file.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// The fixture's name: `spec-airudder-api`, `spec-nxlink-api`, `seed-000`, …
    pub name: String,
    /// The upstream file, relative to `shared/`.
    pub origin: String,
    pub documents: Vec<Value>,
}

/// `(fixture name, upstream file relative to shared/, fixture text)`.
const FIXTURES: &[(&str, &str, &str)] = &[
    (
        "spec-airudder-api",
        "spec/airudder-api.md",
        include_str!("../fixtures/examples/spec-airudder-api.json"),
    ),
    (
        "spec-nxlink-api",
        "spec/nxlink-api.md",
        include_str!("../fixtures/examples/spec-nxlink-api.json"),
    ),
    (
        "seed-000",
        "seeds/000_f82ca51f8fda208b.txt",
        include_str!("../fixtures/examples/seed-000.json"),
    ),
    (
        "seed-001",
        "seeds/001_c06f58c1ee10f68f.txt",
        include_str!("../fixtures/examples/seed-001.json"),
    ),
    (
        "seed-002",
        "seeds/002_d705939efa1c79bb.txt",
        include_str!("../fixtures/examples/seed-002.json"),
    ),
    (
        "seed-003",
        "seeds/003_c9c90b0686829d49.txt",
        include_str!("../fixtures/examples/seed-003.json"),
    ),
    (
        "seed-004",
        "seeds/004_9c832ff04017e977.txt",
        include_str!("../fixtures/examples/seed-004.json"),
    ),
];

/// Every in-repository fixture, in the order above (specs first, then seeds by number).
pub fn sources() -> Vec<Source> {
    FIXTURES
        .iter()
        .map(|(name, origin, text)| Source {
            name: (*name).to_owned(),
            origin: (*origin).to_owned(),
            documents: parse_fixture(name, text),
        })
        .collect()
}

/// The documents of one fixture by name (`"seed-003"`, `"spec-airudder-api"`).
///
/// # Panics
/// On an unknown name: a test that asks for a fixture that is not there fails.
pub fn documents(name: &str) -> Vec<Value> {
    let (_, _, text) = FIXTURES
        .iter()
        .find(|(n, _, _)| *n == name)
        .unwrap_or_else(|| panic!("no example fixture named {name}"));
    parse_fixture(name, text)
}

/// The documents of seed page `number` (`"000"` … `"004"`).
pub fn seed(number: &str) -> Vec<Value> {
    documents(&format!("seed-{number}"))
}

/// The first document of fixture `name` for which `pick` holds.
///
/// # Panics
/// When none does, naming the fixture.
pub fn find(name: &str, pick: impl Fn(&Value) -> bool) -> Value {
    documents(name)
        .into_iter()
        .find(|d| pick(d))
        .unwrap_or_else(|| panic!("no matching document in fixture {name}"))
}

fn parse_fixture(name: &str, text: &str) -> Vec<Value> {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("fixture {name} is not a JSON array: {e}"))
}

/// Extracts every source from the upstream documents under `shared` (the folder holding
/// `spec/` and `seeds/`).
pub fn extract(shared: &Path) -> io::Result<Vec<Source>> {
    FIXTURES
        .iter()
        .map(|(name, origin, _)| {
            let text = fs::read_to_string(shared.join(origin))?;
            let documents = if origin.starts_with("spec/") {
                markdown_documents(&text)
            } else {
                balanced_objects(&text)
            };
            Ok(Source {
                name: (*name).to_owned(),
                origin: (*origin).to_owned(),
                documents,
            })
        })
        .collect()
}

/// The fixture file's text for `source`: a pretty JSON array, one document after another.
pub fn fixture_text(source: &Source) -> String {
    let mut text = serde_json::to_string_pretty(&source.documents).unwrap_or_default();
    text.push('\n');
    text
}

/// The path of `source`'s fixture file inside this crate.
pub fn fixture_path(source: &Source) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/examples")
        .join(format!("{}.json", source.name))
}

/// Fenced ```json blocks and inline `{…}` code spans of a markdown file.
fn markdown_documents(text: &str) -> Vec<Value> {
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
    documents
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_objects_skip_text_and_find_nested_json() {
        let text = r#"before {"a": {"b": "}"}} {not json {"c": 1}} after"#;
        let found = balanced_objects(text);
        assert_eq!(
            found,
            vec![
                serde_json::json!({"a": {"b": "}"}}),
                serde_json::json!({"c": 1})
            ]
        );
    }

    #[test]
    fn markdown_takes_json_fences_and_inline_spans_only() {
        let text =
            "```json\n{\"x\": 1}\n```\n```text\n{\"y\": 2}\n```\n| `{\"z\": \"a \\| b\"}` |\n";
        assert_eq!(
            markdown_documents(text),
            vec![
                serde_json::json!({"x": 1}),
                serde_json::json!({"z": "a | b"})
            ]
        );
    }

    #[test]
    fn every_fixture_parses_and_holds_documents() {
        let sources = sources();
        assert_eq!(sources.len(), FIXTURES.len());
        for s in &sources {
            assert!(!s.documents.is_empty(), "{} is empty", s.name);
        }
    }
}
