//! A stored message as an nxlink chat record (`nxlink-api.md` §4.3). Items are sparse:
//! fields that do not apply are left out, as in nxlink's own examples.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use tiller_core::{
    conversations::{record_seat, ChatRecord},
    files::media_mime_type,
    messages::{listed, Content, MessageStatus, ReplyShape, SenderType, Template},
};
use utoipa::ToSchema;

/// nxlink's channel code for WhatsApp, the only one it defines.
pub const WHATSAPP: i64 = 2;

/// `yyyy-MM-dd HH:mm:ss`, in UTC (docs/compat.md).
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatRecordOut {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<i64>,
    pub user_channel_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub customer_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub customer_name: String,
    pub saas_conversation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The seat's name; Tiller keeps no seat directory, so the seat id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// The queried `agent_account` if given, else the seat's account (its id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_account: Option<String>,
    /// 0 outbound (bot/agent), 1 inbound (user), 2 system.
    pub chat_type: u8,
    pub message_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    pub message_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    pub tenant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub template: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

pub fn nx_time(t: DateTime<Utc>) -> String {
    t.format(TIME_FORMAT).to_string()
}

impl ChatRecordOut {
    pub fn new(r: &ChatRecord, agent_account: Option<&str>) -> Self {
        let s = &r.session;
        let m = &listed(&r.message.message, ReplyShape::Full);
        let chat_type = match m.sender_type {
            SenderType::User => 1,
            SenderType::System => 2,
            _ => 0,
        };
        let (from, to) = match chat_type {
            1 => (Some(s.user.id.clone()), Some(s.channel_id.clone())),
            0 => (Some(s.channel_id.clone()), Some(s.user.id.clone())),
            _ => (None, None),
        };
        let (media_url, filename) = media_of(&m.content).unwrap_or_default();
        let seat = record_seat(m, s);
        ChatRecordOut {
            id: r.message.seq.to_string(),
            channel: s
                .channel
                .eq_ignore_ascii_case("whatsapp")
                .then_some(WHATSAPP),
            user_channel_id: s.channel_id.clone(),
            from,
            to,
            customer_id: s.user.id.clone(),
            customer_name: s.user.name.clone(),
            saas_conversation_id: s.call_id.to_string(),
            agent_account: seat
                .as_ref()
                .map(|id| agent_account.unwrap_or(id).to_owned()),
            agent_name: seat.clone(),
            agent_id: seat,
            chat_type,
            message_type: message_type(&m.content).to_owned(),
            content: text_of(&m.content),
            message_id: m.msg_id.clone(),
            status: m.status.map(|st| match st {
                MessageStatus::Sent => "sent",
                MessageStatus::Delivery => "delivered",
                MessageStatus::Read => "read",
                MessageStatus::Failed => "failed",
            }),
            tenant_id: s.tenant.to_string(),
            mime_type: media_mime_type(media_url, filename.as_deref()),
            filename,
            media_link: media_url.map(str::to_owned),
            template: match &m.content {
                Content::Template(t) => t.template.as_deref().map(template_of),
                _ => None,
            },
            context: m.reply.as_ref().and_then(|r| r.msg_id()).map(str::to_owned),
            created_at: nx_time(r.message.created_at),
            updated_at: nx_time(r.message.updated_at),
        }
    }
}

/// nxlink names a file message `document`; the other kinds keep their name.
fn message_type(c: &Content) -> &str {
    match c {
        Content::File(_) => "document",
        other => other.kind(),
    }
}

fn text_of(c: &Content) -> Option<String> {
    if let Some(t) = c.text() {
        return Some(t.to_owned());
    }
    match c {
        Content::Interactive(i) => i
            .interactive
            .as_ref()
            .and_then(Option::as_ref)
            .and_then(|i| i.body.as_ref())
            .and_then(|b| b.text.clone()),
        Content::Template(t) => t
            .template
            .as_deref()
            .and_then(Template::whatsapp)
            .and_then(|w| w.body.clone()),
        Content::Location(l) => l
            .location
            .as_ref()
            .and_then(Option::as_ref)
            .and_then(|l| l.address.clone().or_else(|| l.name.clone())),
        _ => None,
    }
}

/// `(origin_url, name)` of a media content.
fn media_of(c: &Content) -> Option<(Option<&str>, Option<String>)> {
    match c {
        Content::Image(m) | Content::Video(m) | Content::Audio(m) | Content::File(m) => {
            let media = m.media.as_ref().and_then(Option::as_ref)?;
            Some((media.origin_url.as_deref(), media.name.clone()))
        }
        _ => None,
    }
}

/// A WhatsApp template in nxlink's shape: `{id, name, language, category, components}`.
fn template_of(t: &Template) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(info) = &t.info {
        if let Some(id) = info.id {
            out.insert("id".into(), json!(id.to_string()));
        }
        if let Some(name) = &info.name {
            out.insert("name".into(), json!(name));
        }
        if let Some(lang) = &info.language {
            out.insert("language".into(), json!(lang));
        }
    }
    if let Some(wa) = t.whatsapp() {
        if let Some(category) = &wa.category {
            out.insert("category".into(), json!(category.to_ascii_uppercase()));
        }
        let mut components = Vec::new();
        if let Some(header) = &wa.header {
            components
                .push(json!({ "type": "HEADER", "format": header.kind().to_ascii_uppercase() }));
        }
        if let Some(body) = &wa.body {
            components.push(json!({ "type": "BODY", "text": body }));
        }
        if let Some(footer) = wa.footer.as_ref().filter(|f| !f.is_empty()) {
            components.push(json!({ "type": "FOOTER", "text": footer }));
        }
        if let Some(buttons) = wa.button.as_ref().filter(|b| !b.is_empty()) {
            let buttons: Vec<Value> = buttons
                .iter()
                .map(|b| json!({ "type": b.kind.as_deref().unwrap_or_default().to_ascii_uppercase(), "text": b.text }))
                .collect();
            components.push(json!({ "type": "BUTTONS", "buttons": buttons }));
        }
        out.insert("components".into(), Value::Array(components));
    }
    Value::Object(out)
}
