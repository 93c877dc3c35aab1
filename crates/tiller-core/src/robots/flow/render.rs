//! Turning a node's messages into wire [`Content`]: `{{name}}` interpolation and the
//! interactive option ids of spec §1.2 (`<flow_id>-<node>-<msg>-button-<i>-`).

use serde_json::{Map, Value};

use super::{
    model::{MediaKind, Message},
    DialogueState, TurnContext,
};
use crate::messages::{
    Choice, Content, Interactive, InteractiveAction, InteractiveButton, InteractiveContent,
    InteractiveKind, ListSection, Media, MediaContent, TextBody,
};

/// Looks up `name` or a dotted path `order.status` (array indexes as numbers): slots first,
/// then flow variables, then session variables.
pub(super) fn lookup<'v>(
    path: &str,
    state: &'v DialogueState,
    ctx: &'v TurnContext<'_>,
) -> Option<&'v Value> {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let root = [&state.slots, &state.variables, ctx.variables]
        .into_iter()
        .find_map(|m| m.get(head))?;
    walk(root, rest)
}

/// Follows a dotted path (`a.b.0`) into a JSON value; `""` is the value itself.
pub(super) fn walk<'v>(mut value: &'v Value, path: &str) -> Option<&'v Value> {
    for key in path.split('.').filter(|k| !k.is_empty()) {
        value = match value {
            Value::Object(map) => map.get(key)?,
            Value::Array(items) => items.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Replaces each `{{ name }}` with its value; an unknown name becomes `""`.
pub(super) fn interpolate(text: &str, state: &DialogueState, ctx: &TurnContext<'_>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        let name = rest[open + 2..open + close].trim();
        match lookup(name, state, ctx) {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Null) | None => {}
            Some(other) => out.push_str(&other.to_string()),
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

/// Interpolates every string inside a JSON value (keys stay as written).
pub(super) fn interpolate_value(
    value: &Value,
    state: &DialogueState,
    ctx: &TurnContext<'_>,
) -> Value {
    match value {
        Value::String(s) => Value::String(interpolate(s, state, ctx)),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| interpolate_value(v, state, ctx))
                .collect(),
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), interpolate_value(v, state, ctx)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

/// `<flow_id>-<node_no>-<msg_no>-button-<i>-`.
pub(super) fn button_id(flow_id: &str, node_no: usize, msg_no: usize, i: usize) -> String {
    format!("{flow_id}-{node_no}-{msg_no}-button-{i}-")
}

/// `<flow_id>-<node_no>-<msg_no>-list-<section>-<row>-`.
pub(super) fn row_id(
    flow_id: &str,
    node_no: usize,
    msg_no: usize,
    section: usize,
    row: usize,
) -> String {
    format!("{flow_id}-{node_no}-{msg_no}-list-{section}-{row}-")
}

/// Renders message `msg_no` of node `node_no`. Option titles are not interpolated: they are
/// what answers are matched against.
pub(super) fn render(
    msg: &Message,
    node_no: usize,
    msg_no: usize,
    state: &DialogueState,
    ctx: &TurnContext<'_>,
) -> Content {
    let text = |t: &str| interpolate(t, state, ctx);
    let body = |t: &str| TextBody {
        text: Some(text(t)),
        ..TextBody::default()
    };
    let choice = |id: String, title: &str| Choice {
        id: Some(id),
        title: Some(title.to_owned()),
        ..Choice::default()
    };
    match msg {
        Message::Text(t) => Content::plain_text(text(t)),
        Message::Media { kind, url, name } => {
            let media = MediaContent {
                media: Some(Some(Media {
                    origin_url: Some(text(url)),
                    name: name.as_deref().map(text),
                    ..Media::default()
                })),
                ..MediaContent::default()
            };
            match kind {
                MediaKind::Image => Content::Image(media),
                MediaKind::Video => Content::Video(media),
                MediaKind::Audio => Content::Audio(media),
                MediaKind::File => Content::File(media),
            }
        }
        Message::Buttons {
            body: b,
            footer,
            options,
        } => {
            let buttons = options
                .iter()
                .enumerate()
                .map(|(i, title)| InteractiveButton {
                    kind: Some("reply".into()),
                    reply: Some(choice(button_id(ctx.flow_id, node_no, msg_no, i), title)),
                    ..InteractiveButton::default()
                })
                .collect();
            interactive(Interactive {
                kind: Some(InteractiveKind::Button),
                body: Some(body(b)),
                footer: footer.as_deref().map(body),
                action: Some(InteractiveAction {
                    buttons: Some(buttons),
                    ..InteractiveAction::default()
                }),
                ..Interactive::default()
            })
        }
        Message::List {
            body: b,
            footer,
            button,
            sections,
        } => {
            let sections = sections
                .iter()
                .enumerate()
                .map(|(s, (title, rows))| ListSection {
                    title: Some(title.clone()),
                    rows: Some(
                        rows.iter()
                            .enumerate()
                            .map(|(r, t)| choice(row_id(ctx.flow_id, node_no, msg_no, s, r), t))
                            .collect(),
                    ),
                    ..ListSection::default()
                })
                .collect();
            interactive(Interactive {
                kind: Some(InteractiveKind::List),
                body: Some(body(b)),
                footer: footer.as_deref().map(body),
                action: Some(InteractiveAction {
                    button: Some(text(button)),
                    sections: Some(sections),
                    ..InteractiveAction::default()
                }),
                ..Interactive::default()
            })
        }
        // Checked at parse time; interpolation only changes strings, so it still parses.
        Message::Raw(raw) => Content::from_value(interpolate_value(raw, state, ctx))
            .unwrap_or_else(|_| Content::Other(raw.clone())),
    }
}

fn interactive(interactive: Interactive) -> Content {
    Content::Interactive(InteractiveContent {
        interactive: Some(Some(Box::new(interactive))),
        ..InteractiveContent::default()
    })
}
