//! What a flow's messages must respect before it is accepted: WhatsApp's limits on reply
//! buttons and list rows, and option titles that answers can tell apart.

use super::model::Message;
use crate::messages::Content;

/// WhatsApp's limits for reply buttons and list prompts.
const MAX_BUTTONS: usize = 3;
const MAX_ROWS: usize = 10;
const MAX_BUTTON_TITLE: usize = 20;
const MAX_ROW_TITLE: usize = 24;

/// A message's own problem: empty text, too many buttons or rows, unparsable content.
pub(super) fn check(msg: &Message) -> Option<String> {
    let blank = |s: &str| s.trim().is_empty();
    match msg {
        Message::Text(t) if blank(t) => Some("empty text".into()),
        Message::Media { url, .. } if blank(url) => Some("empty media url".into()),
        Message::Buttons { body, options, .. } => {
            if blank(body) {
                return Some("buttons need a non-empty `body`".into());
            }
            if options.is_empty() || options.len() > MAX_BUTTONS {
                return Some(format!(
                    "{} buttons: WhatsApp allows 1 to {MAX_BUTTONS}",
                    options.len()
                ));
            }
            titles(options.iter(), MAX_BUTTON_TITLE)
        }
        Message::List {
            body,
            button,
            sections,
            ..
        } => {
            if blank(body) || blank(button) {
                return Some("a list needs a non-empty `body` and `button`".into());
            }
            let rows: usize = sections.iter().map(|(_, r)| r.len()).sum();
            if rows == 0 || rows > MAX_ROWS {
                return Some(format!(
                    "{rows} list rows: WhatsApp allows 1 to {MAX_ROWS} in all"
                ));
            }
            titles(sections.iter().flat_map(|(_, r)| r), MAX_ROW_TITLE)
        }
        Message::Raw(raw) => match Content::from_value(raw.clone()) {
            Err(e) => Some(format!("`content` is not a message content: {e}")),
            Ok(_) => None,
        },
        Message::Text(_) | Message::Media { .. } => None,
    }
}

/// Option titles must be non-empty, short enough and distinct (they are how answers match).
fn titles<'t>(all: impl Iterator<Item = &'t String>, max: usize) -> Option<String> {
    let mut seen: Vec<&str> = Vec::new();
    for t in all {
        if t.trim().is_empty() {
            return Some("an empty option title".into());
        }
        if t.chars().count() > max {
            return Some(format!("option `{t}` is longer than {max} characters"));
        }
        if seen.iter().any(|s| same(s, t)) {
            return Some(format!("option `{t}` appears twice"));
        }
        seen.push(t);
    }
    None
}

/// Every button and list row title the messages offer.
pub(super) fn option_titles(say: &[Message]) -> Vec<&str> {
    say.iter()
        .flat_map(|m| -> Vec<&str> {
            match m {
                Message::Buttons { options, .. } => options.iter().map(String::as_str).collect(),
                Message::List { sections, .. } => sections
                    .iter()
                    .flat_map(|(_, r)| r.iter().map(String::as_str))
                    .collect(),
                _ => Vec::new(),
            }
        })
        .collect()
}

/// Title equality as answers are matched: trimmed, case-insensitive.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}
