//! Serde types for Meta's webhook body, as the Cloud API webhook reference shows it:
//! `{"object":"whatsapp_business_account","entry":[{"id","time","changes":[{"field","value"}]}]}`.
//!
//! Every struct keeps the keys it does not name in `extra`, so nothing Meta adds is lost,
//! and every field Meta may leave out is optional. The items of `messages` and `statuses`
//! are read one by one (see [`super::read_webhook`]), so one odd item does not cost the rest.
//! Both directions are derived: the WhatsApp fake builds its webhooks from these types.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// The whole body of a webhook post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookBody {
    /// `whatsapp_business_account` for WhatsApp.
    pub object: String,
    #[serde(default)]
    pub entry: Vec<Entry>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One WhatsApp Business Account's changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The WhatsApp Business Account id.
    #[serde(default)]
    pub id: String,
    /// Unix seconds; given on template and account webhooks.
    #[serde(
        default,
        deserialize_with = "flex_i64_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub time: Option<i64>,
    #[serde(default)]
    pub changes: Vec<ChangeBody>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One change: a `field` (`messages`, `message_template_status_update`, …) and its value,
/// read by field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeBody {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub value: Value,
}

/// The value of a `messages` change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessagesValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<WaContact>,
    /// Read one by one into [`WaMessage`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Value>,
    /// Read one by one into [`WaStatus`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<Value>,
    /// System-, app- and account-level errors (e.g. 130429 throughput reached).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<MetaError>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The business number a change is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub display_phone_number: String,
    #[serde(default)]
    pub phone_number_id: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A user named by the change: `{"profile":{"name"},"wa_id"}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WaContact {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The envelope every inbound message shares. The type's own object (`text`, `image`, …)
/// and anything else stay in `rest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaMessage {
    /// The user's wa_id.
    pub from: String,
    /// The wamid.
    pub id: String,
    /// Unix seconds; Meta sends it as a string.
    #[serde(deserialize_with = "flex_i64")]
    pub timestamp: i64,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<WaContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<MetaError>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// `message.context`: the message this one quotes or answers, and forwarding flags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WaContext {
    /// The business number that sent the quoted message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The quoted wamid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequently_forwarded: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `message.referral`: the click-to-WhatsApp ad or post the user came from. Present on
/// the first message after the click only.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Referral {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// `ad` or `post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `image` or `video`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
    /// The click id, for the Conversions API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One item of `statuses`: how far a message the business sent got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaStatus {
    /// The wamid the send returned.
    pub id: String,
    /// `sent`, `delivered`, `read`, `failed` (and `played` for voice messages).
    pub status: String,
    #[serde(deserialize_with = "flex_i64")]
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<MetaError>,
    /// Echoed from the send, when the send gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An error as webhooks report it (on a value, a status or an unsupported message).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaError {
    pub code: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
    /// Older webhooks put `details` here instead of under `error_data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MetaError {
    /// `error_data.details`, else the older top-level `details`.
    pub fn details(&self) -> Option<&str> {
        self.error_data
            .as_ref()
            .and_then(|d| d.details.as_deref())
            .or(self.details.as_deref())
    }

    /// `title`, else `message`, else `""`.
    pub fn title(&self) -> &str {
        self.title
            .as_deref()
            .or(self.message.as_deref())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The value of a `message_template_status_update` change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateStatusUpdate {
    /// `APPROVED`, `REJECTED`, `PAUSED`, `DISABLED`, … kept as Meta spells it.
    pub event: String,
    #[serde(deserialize_with = "flex_i64")]
    pub message_template_id: i64,
    #[serde(default)]
    pub message_template_name: String,
    /// e.g. `en_US`.
    #[serde(default)]
    pub message_template_language: String,
    /// `NONE` or a rejection reason; sometimes `null`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The value of a `message_template_quality_update` change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateQualityUpdate {
    /// `GREEN`, `YELLOW`, `RED` or `UNKNOWN`.
    #[serde(default)]
    pub previous_quality_score: String,
    pub new_quality_score: String,
    #[serde(deserialize_with = "flex_i64")]
    pub message_template_id: i64,
    #[serde(default)]
    pub message_template_name: String,
    #[serde(default)]
    pub message_template_language: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An integer Meta sends as a JSON number or as a string of digits (timestamps, ids).
fn flex_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flex {
        Number(i64),
        Text(String),
    }
    match Flex::deserialize(deserializer)? {
        Flex::Number(n) => Ok(n),
        Flex::Text(s) => s.trim().parse().map_err(|_| {
            serde::de::Error::custom(format!(
                "expected an integer or a string of digits, got {s:?}"
            ))
        }),
    }
}

fn flex_i64_opt<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    struct Wrap(#[serde(deserialize_with = "flex_i64")] i64);
    Option::<Wrap>::deserialize(deserializer).map(|w| w.map(|Wrap(n)| n))
}
