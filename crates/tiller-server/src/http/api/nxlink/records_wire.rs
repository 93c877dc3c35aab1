//! The chat-records query string, checked into a [`ChatRecordRequest`] (`nxlink-api.md`
//! §4.2), and a stored message with its agent as an nxlink chat record (§4.3). Items are sparse: fields that do
//! not apply are left out, as in nxlink's own examples.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tiller_core::{
    conversations::{CallId, ChatRecordQuery, ChatRecordRequest, ShownRecord, SortOrder},
    files::media_mime_type,
    messages::{listed, Content, MessageStatus, ReplyShape, SenderType, Template},
    tenant::{app_key_matches, Tenant},
};
use utoipa::ToSchema;

use crate::http::{ApiError, ErrorKind};

/// nxlink's channel code for WhatsApp, the only one it defines.
pub const WHATSAPP: i64 = 2;

/// `yyyy-MM-dd HH:mm:ss`, in UTC (docs/compat.md).
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Largest `page_size` nxlink allows.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The query string as given, read as a map (a repeated parameter keeps its last value).
/// Each parameter is checked in nxlink's order, the first failure answering with its
/// code: the caller ([`ChatRecordsIn::check_caller`]), then paging and filters.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct ChatRecordsIn(HashMap<String, String>);

fn param_error(code: i64, message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::BadRequest, message).nx_code(code)
}

impl ChatRecordsIn {
    /// A parameter; an empty value counts as left out.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `tenant_id` (21058) and `appkey` (21059) are required and must be the signer's
    /// (1005, 22016).
    pub fn check_caller(&self, tenant: &Tenant) -> Result<(), ApiError> {
        let tenant_id = self
            .get("tenant_id")
            .ok_or_else(|| param_error(21058, "tenant_id is required"))?;
        let appkey = self
            .get("appkey")
            .ok_or_else(|| param_error(21059, "appkey is required"))?;
        if tenant_id.parse::<i64>().ok() != Some(tenant.id.0) {
            return Err(ApiError::unauthorized(
                "Insufficient permissions: tenant_id is not this accessKey's tenant",
            )
            .nx_code(1005));
        }
        if !app_key_matches(&tenant.app_key, appkey) {
            return Err(param_error(22016, "no application with this appkey"));
        }
        Ok(())
    }

    fn number(&self, name: &str) -> Result<u32, ApiError> {
        self.get(name)
            .ok_or_else(|| param_error(22072, format!("{name} is required")))?
            .parse::<u32>()
            .map_err(|_| param_error(22072, format!("{name} must be a positive integer")))
    }

    fn time(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.get(name)
            .map(|raw| {
                NaiveDateTime::parse_from_str(raw, TIME_FORMAT)
                    .map(|t| Utc.from_utc_datetime(&t))
                    .map_err(|_| param_error(22072, format!("{name} must be yyyy-MM-dd HH:mm:ss")))
            })
            .transpose()
    }
}

/// Paging and filters, every failure 22072. `agent_account` is kept as given: the service
/// resolves it (a seat's e-mail, else a seat id).
impl TryFrom<ChatRecordsIn> for ChatRecordRequest {
    type Error = ApiError;

    fn try_from(params: ChatRecordsIn) -> Result<Self, ApiError> {
        let page = params.number("page_number")?;
        let page_size = params.number("page_size")?;
        if page == 0 {
            return Err(param_error(22072, "page_number starts at 1"));
        }
        if page_size == 0 || page_size > MAX_PAGE_SIZE {
            return Err(param_error(
                22072,
                format!("page_size must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let channels = match params.get("channel") {
            None => Vec::new(),
            Some("2") => vec!["whatsapp".to_owned()],
            Some(other) => {
                return Err(param_error(
                    22072,
                    format!("channel must be 2 (WhatsApp), not {other}"),
                ))
            }
        };
        let order = match params.get("order_by") {
            None | Some("desc") => SortOrder::NewestFirst,
            Some("asc") => SortOrder::OldestFirst,
            Some(other) => {
                return Err(param_error(
                    22072,
                    format!("order_by must be asc or desc, not {other}"),
                ))
            }
        };
        let call_id = params
            .get("saas_conversation_id")
            .map(CallId::parse)
            .transpose()
            .map_err(|e| param_error(22072, format!("saas_conversation_id: {e}")))?;
        let owned = |name: &str| params.get(name).map(str::to_owned);
        let query = ChatRecordQuery {
            channels,
            channel_id: owned("business_channel_id"),
            user_id: owned("customer_id"),
            call_id,
            seat_id: None,
            from: params.time("start_time")?,
            to: params.time("end_time")?,
            order,
            page,
            page_size,
        };
        Ok(ChatRecordRequest {
            query,
            agent_account: owned("agent_account"),
        })
    }
}

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
    /// The seat's name in the directory, else the seat id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// The queried `agent_account` if given, else the seat's e-mail, else the seat id.
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
    pub fn new(shown: &ShownRecord) -> Self {
        let (r, agent) = (&shown.record, shown.agent.as_ref());
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
            agent_id: agent.map(|a| a.id.clone()),
            agent_name: agent.map(|a| a.name.clone()),
            agent_account: agent.map(|a| a.account.clone()),
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use tiller_core::{secret::Secret, TenantId};

    use super::*;

    fn params(pairs: &[(&str, &str)]) -> ChatRecordsIn {
        ChatRecordsIn(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    fn tenant() -> Tenant {
        Tenant {
            id: TenantId(7),
            name: "Acme".into(),
            company: "acme".into(),
            app_key: "key+1".into(),
            app_secret_hash: String::new(),
            sign_key: String::new(),
            sign_secret: Secret::new(""),
            access_key: String::new(),
            access_secret: Secret::new(""),
            created_at: Utc.timestamp_opt(0, 0).unwrap(),
            disabled_at: None,
        }
    }

    /// The nxlink code and message of a refusal.
    fn refusal<T: std::fmt::Debug>(r: Result<T, ApiError>) -> (i64, String) {
        let e = r.expect_err("the parameters are refused");
        (e.nx_code_given().expect("an nxlink code"), e.to_string())
    }

    #[test]
    fn the_caller_must_name_its_own_tenant_and_app() {
        let t = tenant();
        assert!(params(&[("tenant_id", "7"), ("appkey", "key+1")])
            .check_caller(&t)
            .is_ok());
        assert!(
            params(&[("tenant_id", "7"), ("appkey", "key 1")])
                .check_caller(&t)
                .is_ok(),
            "a + decoded as a space still matches"
        );
        for (given, code, message) in [
            (
                vec![("tenant_id", ""), ("appkey", "key+1")],
                21058,
                "tenant_id is required",
            ),
            (vec![("tenant_id", "7")], 21059, "appkey is required"),
            (
                vec![("tenant_id", "8"), ("appkey", "key+1")],
                1005,
                "Insufficient permissions: tenant_id is not this accessKey's tenant",
            ),
            (
                vec![("tenant_id", "7"), ("appkey", "nope")],
                22016,
                "no application with this appkey",
            ),
            // Both missing: tenant_id is checked first.
            (vec![], 21058, "tenant_id is required"),
            // A wrong tenant and a wrong appkey: the tenant first.
            (
                vec![("tenant_id", "x"), ("appkey", "nope")],
                1005,
                "Insufficient permissions: tenant_id is not this accessKey's tenant",
            ),
        ] {
            let got = refusal(params(&given).check_caller(&t));
            assert_eq!(got, (code, message.to_owned()), "{given:?}");
        }
        let e = params(&[("tenant_id", "8"), ("appkey", "key+1")])
            .check_caller(&t)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unauthorized);
    }

    fn query(pairs: &[(&str, &str)]) -> Result<ChatRecordQuery, ApiError> {
        ChatRecordRequest::try_from(params(pairs)).map(|r| r.query)
    }

    #[test]
    fn paging_and_filters_become_the_request() {
        let req = ChatRecordRequest::try_from(params(&[
            ("page_number", "2"),
            ("page_size", "100"),
            ("channel", "2"),
            ("business_channel_id", "ch-1"),
            ("customer_id", "u-1"),
            ("saas_conversation_id", "c1"),
            ("agent_account", "s1"),
            ("start_time", "2025-01-02 03:04:05"),
            ("end_time", ""),
            ("order_by", "asc"),
        ]))
        .unwrap();
        assert_eq!(req.agent_account.as_deref(), Some("s1"));
        assert_eq!(
            req.query,
            ChatRecordQuery {
                channels: vec!["whatsapp".into()],
                channel_id: Some("ch-1".into()),
                user_id: Some("u-1".into()),
                call_id: Some(CallId::parse("c1").unwrap()),
                seat_id: None,
                from: Some(Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap()),
                to: None,
                order: SortOrder::OldestFirst,
                page: 2,
                page_size: 100,
            }
        );
        let req = ChatRecordRequest::try_from(params(&[
            ("page_number", "1"),
            ("page_size", "1"),
            ("agent_account", ""),
        ]));
        let req = req.unwrap();
        assert_eq!(req.agent_account, None, "empty counts as left out");
        let q = req.query;
        assert!(q.channels.is_empty());
        assert_eq!(q.order, SortOrder::NewestFirst);
        assert_eq!((q.call_id, q.seat_id, q.from), (None, None, None));
    }

    #[test]
    fn paging_and_filter_refusals_are_22072() {
        let paged = [("page_number", "1"), ("page_size", "10")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut all = paged.to_vec();
            all.extend_from_slice(extra);
            query(&all)
        };
        let cases = [
            (query(&[("page_size", "10")]), "page_number is required"),
            (
                query(&[("page_number", "-1"), ("page_size", "10")]),
                "page_number must be a positive integer",
            ),
            (
                query(&[("page_number", "0"), ("page_size", "10")]),
                "page_number starts at 1",
            ),
            (
                query(&[("page_number", "1"), ("page_size", "101")]),
                "page_size must be between 1 and 100",
            ),
            (
                query(&[("page_number", "1"), ("page_size", "0")]),
                "page_size must be between 1 and 100",
            ),
            (
                with(&[("channel", "3")]),
                "channel must be 2 (WhatsApp), not 3",
            ),
            (
                with(&[("order_by", "up")]),
                "order_by must be asc or desc, not up",
            ),
            (
                with(&[("saas_conversation_id", "a\u{7}b")]),
                "saas_conversation_id: call_id must not contain control characters",
            ),
            (
                with(&[("start_time", "2025-01-01")]),
                "start_time must be yyyy-MM-dd HH:mm:ss",
            ),
            (
                with(&[("end_time", "tomorrow")]),
                "end_time must be yyyy-MM-dd HH:mm:ss",
            ),
            // The first failing parameter answers: channel before order_by before the times.
            (
                with(&[("channel", "3"), ("order_by", "up"), ("start_time", "x")]),
                "channel must be 2 (WhatsApp), not 3",
            ),
            (
                with(&[("saas_conversation_id", "a\u{7}b"), ("start_time", "x")]),
                "saas_conversation_id: call_id must not contain control characters",
            ),
        ];
        for (got, message) in cases {
            assert_eq!(refusal(got), (22072, message.to_owned()));
        }
    }
}
