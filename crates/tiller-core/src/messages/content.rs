//! `content`: what a message says, tagged by its `"type"` (spec §1.3).

use serde::{de::Error as _, Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{nullable, Contact, Interactive, Location, Media, Reply, SystemEvent, Template};

/// A message's content, internally tagged on `"type"`.
///
/// Every typed body keeps the fields the docs do not define in its `extra` map, and a
/// `type` the docs do not list is kept whole as [`Content::Other`], so reading and writing
/// a content never loses anything. A *known* `type` whose body has the wrong shape (e.g.
/// `"media": "x"`) is an error rather than `Other`, so a malformed inbound message is
/// rejected instead of stored as something we cannot render.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text(TextContent),
    Image(MediaContent),
    Video(MediaContent),
    Audio(MediaContent),
    File(MediaContent),
    Location(LocationContent),
    Contacts(ContactsContent),
    /// A bot's button or list prompt, the user's pick from one as sent by the inbound API
    /// (`interactive.button_reply` / `list_reply`), or that pick as stored and listed:
    /// `{"type":"interactive","text":"男"}` with a message-level `reply`.
    Interactive(InteractiveContent),
    /// The user tapped a WhatsApp template quick-reply button: `{"type":"button","text":"no"}`.
    Button(TextContent),
    Template(TemplateContent),
    /// A conversation life-cycle event; sent with `sender_type` `system`.
    System(SystemContent),
    /// Any other `type`, kept exactly as received (including its `"type"` key).
    #[serde(untagged)]
    Other(Value),
}

impl Content {
    /// A plain text content.
    pub fn plain_text(text: impl Into<String>) -> Self {
        Self::Text(TextContent {
            text: Some(text.into()),
            ..TextContent::default()
        })
    }

    /// The wire `type` string (`"text"`, `"image"`, …; for [`Content::Other`] whatever it
    /// carried, or `""` if it has none).
    pub fn kind(&self) -> &str {
        match self {
            Self::Text(_) => "text",
            Self::Image(_) => "image",
            Self::Video(_) => "video",
            Self::Audio(_) => "audio",
            Self::File(_) => "file",
            Self::Location(_) => "location",
            Self::Contacts(_) => "contacts",
            Self::Interactive(_) => "interactive",
            Self::Button(_) => "button",
            Self::Template(_) => "template",
            Self::System(_) => "system",
            Self::Other(raw) => raw.get("type").and_then(Value::as_str).unwrap_or_default(),
        }
    }

    /// The text of a `text`, `button` or stored `interactive` (`{"type":"interactive","text":…}`)
    /// content.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(c) | Self::Button(c) => c.text.as_deref(),
            Self::Interactive(c) => c.text.as_deref(),
            _ => None,
        }
    }

    /// The `reply` given inside the content (`{"type":"text","text":"ok","reply":{…}}`), as
    /// opposed to the usual message-level [`super::Message::reply`].
    pub fn reply(&self) -> Option<&Reply> {
        let reply = match self {
            Self::Text(c) | Self::Button(c) => &c.reply,
            Self::Image(c) | Self::Video(c) | Self::Audio(c) | Self::File(c) => &c.reply,
            Self::Location(c) => &c.reply,
            Self::Contacts(c) => &c.reply,
            Self::Interactive(c) => &c.reply,
            Self::Template(_) | Self::System(_) | Self::Other(_) => return None,
        };
        reply.as_deref()
    }

    /// Reads a content from a JSON value; see the type's docs for what is an error.
    pub fn from_value(value: Value) -> Result<Self, serde_json::Error> {
        let Value::Object(map) = value else {
            return Err(serde_json::Error::custom(
                "message content must be a JSON object",
            ));
        };
        let Some(kind) = map.get("type").and_then(Value::as_str) else {
            return Err(serde_json::Error::custom(
                "message content needs a string \"type\"",
            ));
        };
        Ok(match kind {
            "text" => Self::Text(body(map)?),
            "image" => Self::Image(body(map)?),
            "video" => Self::Video(body(map)?),
            "audio" => Self::Audio(body(map)?),
            "file" => Self::File(body(map)?),
            "location" => Self::Location(body(map)?),
            "contacts" => Self::Contacts(body(map)?),
            "interactive" => Self::Interactive(body(map)?),
            "button" => Self::Button(body(map)?),
            "template" => Self::Template(body(map)?),
            "system" => Self::System(body(map)?),
            _ => Self::Other(Value::Object(map)),
        })
    }
}

/// Reads a typed body from a content object, minus its `"type"` key (which would otherwise
/// land in the body's `extra` map and be written twice).
fn body<T: serde::de::DeserializeOwned>(mut map: Map<String, Value>) -> serde_json::Result<T> {
    map.remove("type");
    serde_json::from_value(Value::Object(map))
}

// Hand-written because serde's internally tagged enums cannot fall back to a catch-all
// that keeps the whole object, tag included.
impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_value(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }
}

/// Body of `text` and `button` content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextContent {
    /// 1–2096 characters when sent through the send API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A reply given inside the content rather than on the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Box<Reply>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `image`, `video`, `audio` and `file` content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaContent {
    /// `Some(None)` is an explicit `"media": null`, which the send API allows.
    #[serde(
        default,
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub media: Option<Option<Media>>,
    /// A reply given inside the content rather than on the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Box<Reply>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MediaContent {
    /// The `media` object, if one is given and not `null`.
    pub fn media(&self) -> Option<&Media> {
        self.media.as_ref()?.as_ref()
    }
}

/// Body of `location` content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocationContent {
    /// `Some(None)` is an explicit `"location": null`, which the send API allows.
    #[serde(
        default,
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub location: Option<Option<Location>>,
    /// A reply given inside the content rather than on the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Box<Reply>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl LocationContent {
    /// The `location` object, if one is given and not `null`.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_ref()?.as_ref()
    }
}

/// Body of `contacts` content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContactsContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<Contact>>,
    /// A reply given inside the content rather than on the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Box<Reply>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `interactive` content: either the `interactive` object, or (as stored and
/// listed for a user's pick) just `text`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InteractiveContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `Some(None)` is an explicit `"interactive": null`, which the send API allows.
    #[serde(
        default,
        deserialize_with = "nullable::deserialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub interactive: Option<Option<Box<Interactive>>>,
    /// A reply given inside the content rather than on the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<Box<Reply>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl InteractiveContent {
    /// The `interactive` object, if one is given and not `null`.
    pub fn interactive(&self) -> Option<&Interactive> {
        self.interactive.as_ref()?.as_deref()
    }
}

/// Body of `template` content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<Box<Template>>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Body of `system` content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SystemContent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemEvent>,
    /// Fields the docs do not define, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
