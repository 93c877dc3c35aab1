//! One Meta message type → Tiller's [`Content`] in the AIRUDDER shapes (spec §1.3). The
//! table is in the module docs of [`super`]; what a type's object holds beyond the
//! Tiller slots stays in that content's `extra`, and a message of any other type (or of
//! a known type with an odd body) is kept as received in [`Content::Other`].

use serde_json::{json, Map, Value};

use super::wire::WaMessage;
use crate::messages::{
    Contact, ContactsContent, Content, Interactive, InteractiveContent, Location, LocationContent,
    Media, MediaContent, SystemContent, SystemEvent, TextContent,
};

/// A user moved to a new number (`system` of type `user_changed_number`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberChange {
    pub old_wa_id: String,
    pub new_wa_id: String,
}

/// The envelope keys of a message; everything else is the type's own.
const ENVELOPE: [&str; 5] = ["from", "id", "timestamp", "context", "referral"];

pub(super) fn content_of(msg: &WaMessage, raw: &Map<String, Value>) -> Content {
    let body = msg.rest.get(&msg.kind);
    let mapped = match (msg.kind.as_str(), body) {
        ("text", Some(Value::Object(o))) => text(o),
        ("image", Some(Value::Object(o))) => media(o).map(Content::Image),
        ("video", Some(Value::Object(o))) => media(o).map(Content::Video),
        ("audio", Some(Value::Object(o))) => media(o).map(Content::Audio),
        ("document", Some(Value::Object(o))) => media(o).map(Content::File),
        ("sticker", Some(Value::Object(o))) => sticker(o),
        ("location", Some(Value::Object(o))) => location(o),
        ("contacts", Some(Value::Array(a))) => contacts(a),
        ("interactive", Some(Value::Object(o))) => interactive(o),
        ("button", Some(Value::Object(o))) => button(o),
        ("reaction", Some(Value::Object(o))) => reaction(o),
        ("system", Some(Value::Object(o))) => system(o),
        _ => None,
    };
    mapped.unwrap_or_else(|| kept_as_received(raw))
}

/// The user's old and new wa_id, for a number-change system message.
pub(super) fn number_change(msg: &WaMessage) -> Option<NumberChange> {
    let system = msg.rest.get("system")?;
    let kind = system.get("type")?.as_str()?;
    if !matches!(kind, "user_changed_number" | "customer_changed_number") {
        return None;
    }
    // Current webhooks name the new number `wa_id`, older ones `new_wa_id`.
    let new = system
        .get("wa_id")
        .or_else(|| system.get("new_wa_id"))?
        .as_str()?;
    Some(NumberChange {
        old_wa_id: msg.from.clone(),
        new_wa_id: new.to_owned(),
    })
}

/// Everything but the envelope, `type` included: `{"type":"unsupported","unsupported":{…},"errors":[…]}`.
///
/// A message whose `type` is also a Tiller type but whose body could not be mapped (a
/// `text` without `body`) is wrapped as `{"type":"unreadable","unreadable":{…}}` instead:
/// kept under its own type, it would read back as a malformed Tiller content.
fn kept_as_received(raw: &Map<String, Value>) -> Content {
    let mut kept = raw.clone();
    for key in ENVELOPE {
        kept.remove(key);
    }
    let kind = kept.get("type").and_then(Value::as_str).unwrap_or_default();
    let tiller_type =
        Content::from_value(json!({ "type": kind })).is_ok_and(|c| !matches!(c, Content::Other(_)));
    if tiller_type {
        return Content::Other(json!({"type": "unreadable", "unreadable": kept}));
    }
    Content::Other(Value::Object(kept))
}

/// `o` without `keys`.
fn without(o: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    o.iter()
        .filter(|(k, _)| !keys.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn string(o: &Map<String, Value>, key: &str) -> Option<String> {
    o.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn text(o: &Map<String, Value>) -> Option<Content> {
    Some(Content::Text(TextContent {
        text: Some(string(o, "body")?),
        reply: None,
        extra: without(o, &["body"]),
    }))
}

/// A media object: Meta's `id` (to download later), `mime_type`, `sha256` and flags such
/// as `voice` stay in `media`; `origin_url` is `""` until the download lands; the
/// document `filename` is Tiller's `media.name`; the `caption` is the content's `text`,
/// as on the send API's flattened items.
fn media(o: &Map<String, Value>) -> Option<MediaContent> {
    o.get("id")?.as_str()?;
    let mut extra = Map::new();
    if let Some(caption) = o.get("caption") {
        extra.insert("text".into(), caption.clone());
    }
    Some(MediaContent {
        media: Some(Some(Media {
            origin_url: Some(String::new()),
            name: string(o, "filename"),
            extra: without(o, &["caption", "filename"]),
        })),
        reply: None,
        extra,
    })
}

/// AIRUDDER has no sticker; it is kept as its own type, shaped like an image.
fn sticker(o: &Map<String, Value>) -> Option<Content> {
    let content = media(o)?;
    Some(Content::Other(json!({
        "type": "sticker",
        "media": serde_json::to_value(content.media()?).ok()?,
    })))
}

fn location(o: &Map<String, Value>) -> Option<Content> {
    let number = |key: &str| match o.get(key) {
        Some(Value::Number(n)) => Some(n.clone()),
        _ => None,
    };
    Some(Content::Location(LocationContent {
        location: Some(Some(Location {
            latitude: Some(number("latitude")?),
            longitude: Some(number("longitude")?),
            address: string(o, "address"),
            name: string(o, "name"),
            extra: without(o, &["latitude", "longitude", "address", "name"]),
        })),
        reply: None,
        extra: Map::new(),
    }))
}

/// A vCard-like contact: `name.formatted_name` and the first phone fill Tiller's two
/// slots; Meta's `name` object is kept as `name_parts`, the other keys (`phones`,
/// `emails`, `org`, …) as they are.
fn contacts(list: &[Value]) -> Option<Content> {
    let contacts = list
        .iter()
        .map(|c| {
            let o = c.as_object()?;
            let name = o.get("name");
            let mut extra = without(o, &["name"]);
            if let Some(parts) = name {
                extra.insert("name_parts".into(), parts.clone());
            }
            let first_phone = o
                .get("phones")
                .and_then(Value::as_array)
                .and_then(|p| p.first())
                .and_then(|p| p.get("phone"))
                .and_then(Value::as_str);
            Some(Contact {
                name: name
                    .and_then(|n| n.get("formatted_name"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                phone_number: first_phone.map(str::to_owned),
                extra,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Content::Contacts(ContactsContent {
        contacts: Some(contacts),
        reply: None,
        extra: Map::new(),
    }))
}

/// `button_reply` / `list_reply` are already the inbound API's shape; other kinds
/// (`nfm_reply`, …) keep their object in the interactive's `extra`.
fn interactive(o: &Map<String, Value>) -> Option<Content> {
    let interactive: Interactive = serde_json::from_value(Value::Object(o.clone())).ok()?;
    Some(Content::Interactive(InteractiveContent {
        interactive: Some(Some(Box::new(interactive))),
        ..InteractiveContent::default()
    }))
}

/// A template quick-reply tap: `{"type":"button","text":…}` with Meta's `payload` kept.
fn button(o: &Map<String, Value>) -> Option<Content> {
    Some(Content::Button(TextContent {
        text: Some(string(o, "text")?),
        reply: None,
        extra: without(o, &["text"]),
    }))
}

/// `{"type":"reaction","reaction":{"message_id","emoji"}}`; a removed reaction has
/// `"emoji":""` (Meta sends `""` or leaves the key out).
fn reaction(o: &Map<String, Value>) -> Option<Content> {
    o.get("message_id")?.as_str()?;
    let mut reaction = o.clone();
    if !reaction.get("emoji").is_some_and(Value::is_string) {
        reaction.insert("emoji".into(), Value::String(String::new()));
    }
    Some(Content::Other(
        json!({"type": "reaction", "reaction": reaction}),
    ))
}

/// Tiller's `system` content with Meta's `system.type` (`user_changed_number`, …) as the
/// event and its `body` / `wa_id` kept.
fn system(o: &Map<String, Value>) -> Option<Content> {
    let kind = o.get("type")?.as_str()?;
    let event = SystemEvent {
        kind: serde_json::from_value(Value::String(kind.to_owned())).ok()?,
        from_seat_id: None,
        to_seat_id: None,
        extra: without(o, &["type"]),
    };
    Some(Content::System(SystemContent {
        system: Some(event),
        extra: Map::new(),
    }))
}

/// The Meta media id of a content whose file has not been downloaded yet (`origin_url`
/// empty or absent): what the download job fetches.
pub fn pending_media_id(content: &Content) -> Option<&str> {
    let (origin, media) = match content {
        Content::Image(c) | Content::Video(c) | Content::Audio(c) | Content::File(c) => {
            let m = c.media()?;
            (m.origin_url.as_deref(), &m.extra)
        }
        Content::Other(raw) if content.kind() == "sticker" => {
            let m = raw.get("media")?.as_object()?;
            (m.get("origin_url").and_then(Value::as_str), m)
        }
        _ => return None,
    };
    if origin.is_some_and(|u| !u.is_empty()) {
        return None;
    }
    media.get("id")?.as_str()
}

/// Fills in `origin_url` once the download job has stored the file; `false` when the
/// content has no media waiting.
pub fn attach_downloaded_media(content: &mut Content, origin_url: &str) -> bool {
    if pending_media_id(content).is_none() {
        return false;
    }
    match content {
        Content::Image(c) | Content::Video(c) | Content::Audio(c) | Content::File(c) => {
            if let Some(Some(m)) = c.media.as_mut() {
                m.origin_url = Some(origin_url.to_owned());
                return true;
            }
            false
        }
        Content::Other(raw) => match raw.get_mut("media").and_then(Value::as_object_mut) {
            Some(m) => {
                m.insert("origin_url".into(), Value::String(origin_url.to_owned()));
                true
            }
            None => false,
        },
        _ => false,
    }
}
