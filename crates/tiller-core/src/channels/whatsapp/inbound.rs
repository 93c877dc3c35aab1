//! Meta's webhook body → what Tiller does with it, per change: user messages, statuses of
//! the business's messages, errors, template updates.
//!
//! Only a body that is not a WhatsApp webhook at all is an error. An item Tiller cannot
//! read becomes [`Event::Malformed`] and a field it does not handle [`Event::Unhandled`],
//! both kept whole: Meta retries an unacknowledged webhook for days, so refusing the body
//! for one odd item would only replay it, and the rest of the batch would wait with it.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{
    inbound_content::{content_of, number_change, NumberChange},
    status::DeliveryState,
    wire::{
        MessagesValue, MetaError, Metadata, Referral, TemplateQualityUpdate, TemplateStatusUpdate,
        WaContext, WaMessage, WaStatus, WebhookBody,
    },
};
use crate::{channels::WhatsAppChannel, messages::Content};

/// The `object` of every WhatsApp webhook.
pub const OBJECT: &str = "whatsapp_business_account";

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook body is not a JSON webhook: {0}")]
    Json(#[from] serde_json::Error),
    #[error("webhook object is {0:?}, not \"whatsapp_business_account\"")]
    Object(String),
}

/// A webhook body, read.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookBatch {
    pub changes: Vec<Change>,
}

impl WebhookBatch {
    /// Every event, with the change it came in.
    pub fn events(&self) -> impl Iterator<Item = (&Change, &Event)> {
        self.changes
            .iter()
            .flat_map(|c| c.events.iter().map(move |e| (c, e)))
    }
}

/// One `entry[].changes[]` item.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The WhatsApp Business Account (`entry[].id`).
    pub waba_id: String,
    /// `messages`, `message_template_status_update`, …
    pub field: String,
    /// `entry[].time`, when given.
    pub time: Option<i64>,
    /// The business number, on `messages` changes.
    pub metadata: Option<Metadata>,
    pub events: Vec<Event>,
}

impl Change {
    /// Whether the change is about this channel's number (a `messages` change names it in
    /// `metadata`) or its account (template changes name only the account). Meta posts
    /// every number of an app to the same URL, so the webhook path alone does not say.
    pub fn is_for(&self, channel: &WhatsAppChannel) -> bool {
        match &self.metadata {
            Some(m) => m.phone_number_id == channel.phone_number_id,
            None => self.waba_id == channel.waba_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A user's message.
    Message(Box<InboundMessage>),
    /// How far a message the business sent got.
    Status(Box<StatusUpdate>),
    /// A system-, app- or account-level error (`value.errors`), e.g. 130429.
    Error(MetaError),
    TemplateStatus(TemplateStatusUpdate),
    TemplateQuality(TemplateQualityUpdate),
    /// A change of a field Tiller does not handle yet, its value kept whole.
    Unhandled(Value),
    /// An item Tiller could not read, kept whole with the reason, to be logged.
    Malformed {
        raw: Value,
        reason: String,
    },
}

/// A user's message, mapped to Tiller's content.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// Meta's id of the message.
    pub wamid: String,
    /// The user's wa_id.
    pub from: String,
    /// The user's profile name, from the change's `contacts`.
    pub profile_name: Option<String>,
    /// Unix seconds: when the user sent it (for a reaction, when they reacted).
    pub timestamp: i64,
    /// Meta's `type`, as sent (`document`, `unsupported`, …).
    pub kind: String,
    pub content: Content,
    /// What the message quotes or answers, and forwarding flags.
    pub context: Option<WaContext>,
    /// The click-to-WhatsApp ad the user came from.
    pub referral: Option<Referral>,
    /// Set for a `user_changed_number` system message.
    pub number_change: Option<NumberChange>,
    /// Why Meta could not deliver the content (an `unsupported` message).
    pub errors: Vec<MetaError>,
    /// Meta's message object, as received.
    pub raw: Value,
}

impl InboundMessage {
    pub fn sent_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.timestamp, 0).unwrap_or_default()
    }

    /// The wamid of the message this one answers, which becomes Tiller's `reply`: the
    /// quoted message (`context.id`: a reply, a button or list pick, a quick-reply tap),
    /// or for a reaction the message reacted to.
    pub fn reply_to_wamid(&self) -> Option<&str> {
        if let Some(id) = self.context.as_ref().and_then(|c| c.id.as_deref()) {
            return Some(id);
        }
        match &self.content {
            Content::Other(raw) if self.content.kind() == "reaction" => {
                raw.get("reaction")?.get("message_id")?.as_str()
            }
            _ => None,
        }
    }

    /// The Meta media id still to download, if any.
    pub fn media_id(&self) -> Option<&str> {
        super::pending_media_id(&self.content)
    }
}

/// One status of a message the business sent.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub wamid: String,
    /// Meta's status word: `sent`, `delivered`, `read`, `failed`, `played`, …
    pub status: String,
    /// Unix seconds.
    pub timestamp: i64,
    pub recipient_id: Option<String>,
    pub errors: Vec<MetaError>,
    pub biz_opaque_callback_data: Option<String>,
    /// Meta's status object, as received (`conversation`, `pricing` included).
    pub raw: Value,
}

impl StatusUpdate {
    /// The delivery state this status reports; `None` for a status word Tiller does not
    /// know (kept in `raw`, moves nothing).
    pub fn delivery_state(&self) -> Option<DeliveryState> {
        DeliveryState::from_meta(&self.status, &self.errors)
    }
}

/// Reads a webhook body (the raw bytes whose signature was checked).
pub fn read_webhook(body: &[u8]) -> Result<WebhookBatch, WebhookError> {
    let body: WebhookBody = serde_json::from_slice(body)?;
    if body.object != OBJECT {
        return Err(WebhookError::Object(body.object));
    }
    let changes = body
        .entry
        .into_iter()
        .flat_map(|entry| {
            let (waba_id, time) = (entry.id, entry.time);
            entry.changes.into_iter().map(move |change| {
                let (metadata, events) = read_change(&change.field, change.value);
                Change {
                    waba_id: waba_id.clone(),
                    field: change.field,
                    time,
                    metadata,
                    events,
                }
            })
        })
        .collect();
    Ok(WebhookBatch { changes })
}

fn read_change(field: &str, value: Value) -> (Option<Metadata>, Vec<Event>) {
    match field {
        "messages" => match serde_json::from_value::<MessagesValue>(value.clone()) {
            Ok(v) => (v.metadata.clone(), messages_events(v)),
            Err(e) => (None, vec![malformed(value, &e)]),
        },
        "message_template_status_update" | "message_template_quality_update" => {
            // Meta's own sample of a quality update names the status field, so the shape
            // decides, not the field name.
            let event = if value.get("new_quality_score").is_some() {
                serde_json::from_value(value.clone()).map(Event::TemplateQuality)
            } else {
                serde_json::from_value(value.clone()).map(Event::TemplateStatus)
            };
            (None, vec![event.unwrap_or_else(|e| malformed(value, &e))])
        }
        _ => (None, vec![Event::Unhandled(value)]),
    }
}

fn malformed(raw: Value, error: &serde_json::Error) -> Event {
    Event::Malformed {
        raw,
        reason: error.to_string(),
    }
}

fn messages_events(value: MessagesValue) -> Vec<Event> {
    let mut events = Vec::new();
    for raw in value.messages {
        let event = match serde_json::from_value::<WaMessage>(raw.clone()) {
            Ok(msg) => Event::Message(Box::new(inbound_message(msg, raw, &value.contacts))),
            Err(e) => malformed(raw, &e),
        };
        events.push(event);
    }
    for raw in value.statuses {
        let event = match serde_json::from_value::<WaStatus>(raw.clone()) {
            Ok(s) => Event::Status(Box::new(StatusUpdate {
                wamid: s.id,
                status: s.status,
                timestamp: s.timestamp,
                recipient_id: s.recipient_id,
                errors: s.errors,
                biz_opaque_callback_data: s.biz_opaque_callback_data,
                raw,
            })),
            Err(e) => malformed(raw, &e),
        };
        events.push(event);
    }
    events.extend(value.errors.into_iter().map(Event::Error));
    events
}

fn inbound_message(
    msg: WaMessage,
    raw: Value,
    contacts: &[super::wire::WaContact],
) -> InboundMessage {
    let empty = Map::new();
    let content = content_of(&msg, raw.as_object().unwrap_or(&empty));
    // The contact whose wa_id sent it; a lone contact otherwise (Meta names one per
    // message, and a number change names the old wa_id in `from` only).
    let contact = contacts
        .iter()
        .find(|c| c.wa_id.as_deref() == Some(msg.from.as_str()))
        .or(match contacts {
            [only] => Some(only),
            _ => None,
        });
    InboundMessage {
        profile_name: contact
            .and_then(|c| c.profile.as_ref())
            .and_then(|p| p.name.clone()),
        number_change: number_change(&msg),
        content,
        wamid: msg.id,
        from: msg.from,
        timestamp: msg.timestamp,
        kind: msg.kind,
        context: msg.context,
        referral: msg.referral,
        errors: msg.errors,
        raw,
    }
}
