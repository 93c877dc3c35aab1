//! A Tiller outbound message → the Cloud API send body (`POST /{phone_number_id}/messages`),
//! checked against WhatsApp's limits first, so a content WhatsApp cannot carry or a broken
//! limit is a typed error before anything reaches the provider.
//!
//! Limits are counted in characters: text 4096; media caption 1024; reply buttons 1–3 with
//! titles of at most 20 and ids of at most 256; a list's button label 20, up to 10
//! sections and 10 rows in all, row titles 24, ids 200, descriptions 72; interactive body
//! 1024 (buttons) or 4096 (list) and footer 60.

use serde_json::{json, Map, Value};

use crate::{
    channels::OutboundSend,
    messages::{
        ContactsContent, Content, Interactive, InteractiveKind, LocationContent, MediaContent,
        TemplateChannel, TemplateContent, TextContent,
    },
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("WhatsApp cannot carry {0} content")]
    NotSendable(String),
    #[error("recipient must be a wa_id: 5 to 20 digits, optionally after '+'")]
    Recipient,
    #[error("{0} is required")]
    Missing(&'static str),
    #[error("{field} is {len} characters; WhatsApp allows at most {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what}: {count} given; WhatsApp allows {min} to {max}")]
    Count {
        what: &'static str,
        count: usize,
        min: usize,
        max: usize,
    },
    #[error("{what} {value:?} is given twice; WhatsApp needs them unique")]
    Duplicate { what: &'static str, value: String },
    #[error("media link must be an http or https URL, not {0:?}")]
    Link(String),
}

type Result<T> = std::result::Result<T, OutboundError>;

/// The send body for `send`; `send.reply_to` (a wamid) becomes `context.message_id`, or
/// for a reaction the message reacted to.
pub fn send_body(send: &OutboundSend) -> Result<Value> {
    let to = recipient(&send.to)?;
    let reply_to = send.reply_to.as_deref().filter(|id| !id.is_empty());
    let (kind, object) = match &send.content {
        Content::Text(c) => ("text", text(c)?),
        Content::Image(c) => ("image", media(c, "image", true)?),
        Content::Video(c) => ("video", media(c, "video", true)?),
        Content::Audio(c) => ("audio", media(c, "audio", false)?),
        Content::File(c) => ("document", media(c, "file", true)?),
        Content::Location(c) => ("location", location(c)?),
        Content::Contacts(c) => ("contacts", contacts(c)?),
        Content::Interactive(c) => (
            "interactive",
            interactive(c.interactive().ok_or_else(|| {
                OutboundError::NotSendable(
                    "a user's pick (interactive without an interactive object)".into(),
                )
            })?)?,
        ),
        Content::Template(c) => ("template", template(c)?),
        Content::Other(raw) if send.content.kind() == "sticker" => ("sticker", sticker(raw)?),
        Content::Other(raw) if send.content.kind() == "reaction" => {
            // The reacted message is the reaction's own, not a quoted context.
            return Ok(envelope(&to, "reaction", reaction(raw, reply_to)?));
        }
        other @ (Content::Button(_) | Content::System(_) | Content::Other(_)) => {
            return Err(OutboundError::NotSendable(other.kind().to_owned()));
        }
    };
    let mut body = envelope(&to, kind, object);
    if let Some(id) = reply_to {
        body["context"] = json!({ "message_id": id });
    }
    Ok(body)
}

/// Marks a user's message read (and shows it read on their phone).
pub fn mark_read_body(wamid: &str) -> Value {
    json!({"messaging_product": "whatsapp", "status": "read", "message_id": wamid})
}

fn envelope(to: &str, kind: &str, object: Value) -> Value {
    let mut body = Map::new();
    body.insert("messaging_product".into(), "whatsapp".into());
    body.insert("recipient_type".into(), "individual".into());
    body.insert("to".into(), to.into());
    body.insert("type".into(), kind.into());
    body.insert(kind.into(), object);
    Value::Object(body)
}

fn recipient(raw: &str) -> Result<String> {
    let digits = raw.trim().strip_prefix('+').unwrap_or(raw.trim());
    if (5..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits.to_owned())
    } else {
        Err(OutboundError::Recipient)
    }
}

fn max_chars(field: &'static str, value: &str, max: usize) -> Result<()> {
    let len = value.chars().count();
    if len > max {
        return Err(OutboundError::TooLong { field, len, max });
    }
    Ok(())
}

/// A non-empty string of at most `max` characters.
fn required<'a>(field: &'static str, value: Option<&'a str>, max: usize) -> Result<&'a str> {
    let value = value
        .filter(|v| !v.trim().is_empty())
        .ok_or(OutboundError::Missing(field))?;
    max_chars(field, value, max)?;
    Ok(value)
}

fn count(what: &'static str, count: usize, min: usize, max: usize) -> Result<()> {
    if (min..=max).contains(&count) {
        Ok(())
    } else {
        Err(OutboundError::Count {
            what,
            count,
            min,
            max,
        })
    }
}

fn unique<'a>(what: &'static str, values: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = Vec::new();
    for v in values {
        if seen.contains(&v) {
            return Err(OutboundError::Duplicate {
                what,
                value: v.to_owned(),
            });
        }
        seen.push(v);
    }
    Ok(())
}

fn text(c: &TextContent) -> Result<Value> {
    let body = required("text", c.text.as_deref(), 4096)?;
    let lower = body.to_ascii_lowercase();
    let preview = lower.contains("http://") || lower.contains("https://");
    Ok(json!({"preview_url": preview, "body": body}))
}

/// `id` when the file is on Meta already (uploaded, or an inbound media id), else `link`.
fn media_ref(media: &Map<String, Value>, origin_url: Option<&str>) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    if let Some(id) = media
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
    {
        out.insert("id".into(), id.into());
        return Ok(out);
    }
    let link = origin_url
        .filter(|u| !u.is_empty())
        .ok_or(OutboundError::Missing("media.origin_url or media.id"))?;
    match url::Url::parse(link) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => {
            out.insert("link".into(), link.into());
            Ok(out)
        }
        _ => Err(OutboundError::Link(link.to_owned())),
    }
}

fn media(c: &MediaContent, kind: &str, captioned: bool) -> Result<Value> {
    let m = c
        .media()
        .ok_or_else(|| OutboundError::NotSendable(format!("{kind} without media")))?;
    let mut out = media_ref(&m.extra, m.origin_url.as_deref())?;
    // The caption is the content's `text` (the send API's flattened item), or a `caption`
    // given on the media object.
    let caption = c
        .extra
        .get("text")
        .or_else(|| m.extra.get("caption"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    if let Some(caption) = caption {
        if !captioned {
            return Err(OutboundError::NotSendable(format!("{kind} with a caption")));
        }
        max_chars("caption", caption, 1024)?;
        out.insert("caption".into(), caption.into());
    }
    if kind == "file" {
        if let Some(name) = m.name.as_deref().filter(|n| !n.is_empty()) {
            out.insert("filename".into(), name.into());
        }
    }
    Ok(Value::Object(out))
}

fn sticker(raw: &Value) -> Result<Value> {
    let m = raw
        .get("media")
        .and_then(Value::as_object)
        .ok_or(OutboundError::Missing("media"))?;
    let origin = m.get("origin_url").and_then(Value::as_str);
    Ok(Value::Object(media_ref(m, origin)?))
}

fn reaction(raw: &Value, reply_to: Option<&str>) -> Result<Value> {
    let given = raw.get("reaction");
    let message_id = reply_to
        .or_else(|| given?.get("message_id")?.as_str())
        .filter(|id| !id.is_empty())
        .ok_or(OutboundError::Missing("reaction.message_id"))?;
    // `""` removes an earlier reaction.
    let emoji = given
        .and_then(|r| r.get("emoji"))
        .and_then(Value::as_str)
        .ok_or(OutboundError::Missing("reaction.emoji"))?;
    Ok(json!({"message_id": message_id, "emoji": emoji}))
}

fn location(c: &LocationContent) -> Result<Value> {
    let l = c.location().ok_or(OutboundError::Missing("location"))?;
    let mut out = Map::new();
    out.insert(
        "latitude".into(),
        Value::Number(
            l.latitude
                .clone()
                .ok_or(OutboundError::Missing("location.latitude"))?,
        ),
    );
    out.insert(
        "longitude".into(),
        Value::Number(
            l.longitude
                .clone()
                .ok_or(OutboundError::Missing("location.longitude"))?,
        ),
    );
    for (key, value) in [("name", &l.name), ("address", &l.address)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            out.insert(key.into(), v.into());
        }
    }
    Ok(Value::Object(out))
}

/// Tiller's `{name, phone_number}` as a Meta contact; Meta's own keys kept by the inbound
/// mapping (`name_parts`, `phones`, `emails`, …) are sent back as they are.
fn contacts(c: &ContactsContent) -> Result<Value> {
    let list = c.contacts.as_deref().unwrap_or_default();
    count("contacts", list.len(), 1, 257)?;
    let mut out = Vec::with_capacity(list.len());
    for contact in list {
        let formatted = contact
            .name
            .as_deref()
            .filter(|n| !n.is_empty())
            .ok_or(OutboundError::Missing("contacts[].name"))?;
        let mut o: Map<String, Value> = contact
            .extra
            .iter()
            .filter(|(k, _)| k.as_str() != "name_parts")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut name = match contact.extra.get("name_parts") {
            Some(Value::Object(parts)) => parts.clone(),
            // Meta wants a name part besides the formatted name.
            _ => Map::from_iter([("first_name".to_owned(), formatted.into())]),
        };
        name.insert("formatted_name".into(), formatted.into());
        o.insert("name".into(), Value::Object(name));
        if !o.contains_key("phones") {
            if let Some(phone) = contact.phone_number.as_deref().filter(|p| !p.is_empty()) {
                o.insert("phones".into(), json!([{ "phone": phone }]));
            }
        }
        out.push(Value::Object(o));
    }
    Ok(Value::Array(out))
}

fn interactive(i: &Interactive) -> Result<Value> {
    let mut out = Map::new();
    let kind = match i
        .kind
        .as_ref()
        .ok_or(OutboundError::Missing("interactive.type"))?
    {
        InteractiveKind::Button => "button",
        InteractiveKind::List => "list",
        InteractiveKind::ButtonReply | InteractiveKind::ListReply => {
            return Err(OutboundError::NotSendable("a user's pick".into()))
        }
        // Meta's other kinds (cta_url, flow, location_request_message, …) go as given.
        InteractiveKind::Other(_) => {
            return serde_json::to_value(i)
                .map_err(|_| OutboundError::NotSendable("interactive".into()));
        }
    };
    out.insert("type".into(), kind.into());
    if let Some(header) = i.extra.get("header") {
        out.insert("header".into(), header.clone());
    }
    let body_max = if kind == "button" { 1024 } else { 4096 };
    let body = required(
        "interactive.body.text",
        i.body.as_ref().and_then(|b| b.text.as_deref()),
        body_max,
    )?;
    out.insert("body".into(), json!({ "text": body }));
    // AIRUDDER writes an unused footer as `{"text":""}`; WhatsApp refuses an empty one.
    if let Some(footer) = i
        .footer
        .as_ref()
        .and_then(|f| f.text.as_deref())
        .filter(|t| !t.is_empty())
    {
        max_chars("interactive.footer.text", footer, 60)?;
        out.insert("footer".into(), json!({ "text": footer }));
    }
    let action = i
        .action
        .as_ref()
        .ok_or(OutboundError::Missing("interactive.action"))?;
    let action = if kind == "button" {
        button_action(action)?
    } else {
        list_action(action)?
    };
    out.insert("action".into(), action);
    Ok(Value::Object(out))
}

fn button_action(action: &crate::messages::InteractiveAction) -> Result<Value> {
    let buttons = action.buttons.as_deref().unwrap_or_default();
    count("reply buttons", buttons.len(), 1, 3)?;
    let mut out = Vec::new();
    for b in buttons {
        let reply = b
            .reply
            .as_ref()
            .ok_or(OutboundError::Missing("button reply"))?;
        let id = required("button id", reply.id.as_deref(), 256)?;
        let title = required("button title", reply.title.as_deref(), 20)?;
        out.push(json!({"type": "reply", "reply": {"id": id, "title": title}}));
    }
    let replies = || buttons.iter().filter_map(|b| b.reply.as_ref());
    unique("button id", replies().filter_map(|r| r.id.as_deref()))?;
    unique("button title", replies().filter_map(|r| r.title.as_deref()))?;
    Ok(json!({ "buttons": out }))
}

fn list_action(action: &crate::messages::InteractiveAction) -> Result<Value> {
    let label = required("list button label", action.button.as_deref(), 20)?;
    let sections = action.sections.as_deref().unwrap_or_default();
    count("list sections", sections.len(), 1, 10)?;
    let rows = sections
        .iter()
        .map(|s| s.rows.as_deref().unwrap_or_default().len())
        .sum();
    count("list rows", rows, 1, 10)?;
    let mut out = Vec::new();
    for s in sections {
        let mut section = Map::new();
        match s.title.as_deref().filter(|t| !t.is_empty()) {
            Some(title) => {
                max_chars("list section title", title, 24)?;
                section.insert("title".into(), title.into());
            }
            None if sections.len() > 1 => return Err(OutboundError::Missing("list section title")),
            None => {}
        }
        let mut rows = Vec::new();
        for r in s.rows.as_deref().unwrap_or_default() {
            let mut row = Map::new();
            row.insert(
                "id".into(),
                required("list row id", r.id.as_deref(), 200)?.into(),
            );
            row.insert(
                "title".into(),
                required("list row title", r.title.as_deref(), 24)?.into(),
            );
            if let Some(d) = r.description.as_deref().filter(|d| !d.is_empty()) {
                max_chars("list row description", d, 72)?;
                row.insert("description".into(), d.into());
            }
            rows.push(Value::Object(row));
        }
        section.insert("rows".into(), Value::Array(rows));
        out.push(Value::Object(section));
    }
    unique(
        "list row id",
        sections
            .iter()
            .flat_map(|s| s.rows.as_deref().unwrap_or_default())
            .filter_map(|r| r.id.as_deref()),
    )?;
    Ok(json!({"button": label, "sections": out}))
}

/// An approved template by `info.name` and `info.language`; its `components` (the Graph
/// API's own shape, with the parameters) are taken from `template.components` as given.
fn template(c: &TemplateContent) -> Result<Value> {
    let t = c
        .template
        .as_deref()
        .ok_or(OutboundError::Missing("template"))?;
    let other_channel = match &t.channel {
        None | Some(TemplateChannel::WhatsApp) => None,
        Some(TemplateChannel::Instagram) => Some("Instagram"),
        Some(TemplateChannel::Line) => Some("Line"),
        Some(TemplateChannel::Other(name)) => Some(name.as_str()),
    };
    if let Some(channel) = other_channel {
        return Err(OutboundError::NotSendable(format!("a {channel} template")));
    }
    let info = t.info.as_ref();
    let name = required(
        "template.info.name",
        info.and_then(|i| i.name.as_deref()),
        512,
    )?;
    let language = required(
        "template.info.language",
        info.and_then(|i| i.language.as_deref()),
        15,
    )?;
    let mut out = json!({"name": name, "language": {"code": language}});
    if let Some(components) = t.extra.get("components") {
        out["components"] = components.clone();
    }
    Ok(out)
}
