//! The definition as written: serde structs that mirror the YAML/JSON keys one to one.
//!
//! Every struct denies unknown fields, so a typo (`gotto:`) is an error with a line rather
//! than a silently ignored key. The few short forms (`say: "Hi"`, `image: <url>`) use
//! hand-written visitors instead of `#[serde(untagged)]`, which would swallow the nested
//! error and its location.

use std::{fmt, marker::PhantomData};

use serde::{
    de::{self, value::MapAccessDeserializer, MapAccess, SeqAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::{Map, Value};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FlowDef {
    pub name: Option<String>,
    pub description: Option<String>,
    pub start: Option<String>,
    #[serde(default)]
    pub anywhere: Vec<RouteDef>,
    #[serde(default, deserialize_with = "ordered")]
    pub nodes: Vec<(String, NodeDef)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NodeDef {
    #[serde(default, deserialize_with = "messages")]
    pub say: Vec<MessageDef>,
    pub set: Option<SetDef>,
    pub goto: Option<String>,
    pub ask: Option<AskDef>,
    pub capture: Option<CaptureDef>,
    pub http: Option<HttpDef>,
    pub transfer: Option<TransferDef>,
    pub end: Option<EndDef>,
}

/// One entry of a `say` list: a bare string for `text`, or a map of [`MessageFields`].
#[derive(Debug)]
pub(super) struct MessageDef(pub MessageFields);

/// Exactly one of these keys (checked when compiling).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MessageFields {
    pub text: Option<String>,
    pub image: Option<MediaDef>,
    pub video: Option<MediaDef>,
    pub audio: Option<MediaDef>,
    pub file: Option<MediaDef>,
    pub buttons: Option<ButtonsDef>,
    pub list: Option<ListDef>,
    pub content: Option<Value>,
}

/// `image: <url>` or `image: {url, name}`.
#[derive(Debug)]
pub(super) struct MediaDef(pub MediaFields);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MediaFields {
    pub url: String,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ButtonsDef {
    pub body: String,
    pub options: Vec<String>,
    pub footer: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListDef {
    pub body: String,
    pub button: String,
    pub sections: Vec<SectionDef>,
    pub footer: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SectionDef {
    pub title: String,
    pub rows: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SetDef {
    pub intention: Option<String>,
    #[serde(default)]
    pub event_labels: Map<String, Value>,
    #[serde(default)]
    pub variables: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RouteDef {
    pub option: Option<String>,
    pub keywords: Option<Vec<String>>,
    pub regex: Option<String>,
    pub goto: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AskDef {
    pub slot: Option<String>,
    #[serde(default)]
    pub routes: Vec<RouteDef>,
    pub fallback: Option<FallbackDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FallbackDef {
    #[serde(default, deserialize_with = "messages")]
    pub say: Vec<MessageDef>,
    pub retries: Option<u32>,
    pub goto: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum SlotKind {
    Date,
    Amount,
    Phone,
    Number,
    Email,
    Text,
    Regex,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CaptureDef {
    pub slot: String,
    pub kind: SlotKind,
    pub pattern: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    #[serde(default, deserialize_with = "messages")]
    pub reprompt: Vec<MessageDef>,
    pub retries: Option<u32>,
    pub goto: String,
    pub on_fail: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HttpDef {
    pub method: Option<String>,
    pub url: String,
    #[serde(default, deserialize_with = "ordered")]
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    pub timeout_secs: Option<u64>,
    pub save_as: Option<String>,
    #[serde(default)]
    pub routes: Vec<HttpRouteDef>,
    pub goto: String,
    pub on_error: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HttpRouteDef {
    pub when: WhenDef,
    pub goto: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WhenDef {
    pub path: String,
    pub equals: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TransferDef {
    pub output_label: Option<String>,
    pub on_refused: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EndDef {}

/// A map read as a list of pairs, so `nodes` keep their definition order (the node number
/// in option ids is the 1-based position) and a repeated key is an error.
fn ordered<'de, D, T>(deserializer: D) -> Result<Vec<(String, T)>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Pairs<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for Pairs<T> {
        type Value = Vec<(String, T)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut pairs: Vec<(String, T)> = Vec::new();
            while let Some((key, value)) = map.next_entry::<String, T>()? {
                if pairs.iter().any(|(k, _)| *k == key) {
                    return Err(de::Error::custom(format!("duplicate key `{key}`")));
                }
                pairs.push((key, value));
            }
            Ok(pairs)
        }
    }
    deserializer.deserialize_map(Pairs(PhantomData))
}

/// `say:` (and `reprompt:`, fallback `say:`): a list of messages, one message, or a string.
fn messages<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<MessageDef>, D::Error> {
    struct Messages;
    impl<'de> Visitor<'de> for Messages {
        type Value = Vec<MessageDef>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a message, a list of messages or a text")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(vec![MessageDef::text(text)])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut all = Vec::new();
            while let Some(m) = seq.next_element()? {
                all.push(m);
            }
            Ok(all)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Ok(vec![MessageDef::deserialize(MapAccessDeserializer::new(
                map,
            ))?])
        }
    }
    deserializer.deserialize_any(Messages)
}

impl MessageDef {
    fn text(text: &str) -> Self {
        Self(MessageFields {
            text: Some(text.to_owned()),
            ..MessageFields::default()
        })
    }
}

/// Inside a list a bare string is a text message.
impl<'de> Deserialize<'de> for MessageDef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct One;
        impl<'de> Visitor<'de> for One {
            type Value = MessageDef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a message (`text:`, `image:`, `buttons:`, …) or a text")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(MessageDef::text(text))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                MessageFields::deserialize(MapAccessDeserializer::new(map)).map(MessageDef)
            }
        }
        deserializer.deserialize_any(One)
    }
}

impl<'de> Deserialize<'de> for MediaDef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Media;
        impl<'de> Visitor<'de> for Media {
            type Value = MediaDef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a URL or `{url, name}`")
            }
            fn visit_str<E: de::Error>(self, url: &str) -> Result<Self::Value, E> {
                Ok(MediaDef(MediaFields {
                    url: url.to_owned(),
                    name: None,
                }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                MediaFields::deserialize(MapAccessDeserializer::new(map)).map(MediaDef)
            }
        }
        deserializer.deserialize_any(Media)
    }
}
