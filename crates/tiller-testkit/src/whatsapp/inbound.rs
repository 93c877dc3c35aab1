//! A user writing to a business number: the fake builds the `messages` webhook Meta would
//! post (contacts with the profile name, the message with `from`, `id`, `timestamp`),
//! signs it, posts it, and opens that user's customer service window.

use std::sync::Arc;

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::{
    state::{self, Shared},
    validate,
    webhooks::{self, Signature},
};

/// One message from a user, without the id and timestamp the fake assigns.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Inbound {
    pub phone_number_id: String,
    /// The user's number (their wa_id), digits with an optional `+`.
    pub from: String,
    /// The profile name; the number when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// A Cloud API inbound message object, e.g. `{"type":"text","text":{"body":"hi"}}`.
    pub message: Value,
}

impl Inbound {
    pub fn text(phone_number_id: &str, from: &str, body: &str) -> Self {
        Self {
            phone_number_id: phone_number_id.to_owned(),
            from: from.to_owned(),
            name: None,
            message: json!({"type": "text", "text": {"body": body}}),
        }
    }

    #[must_use]
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }
}

/// What became of an injected message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InboundOutcome {
    #[serde(rename = "id")]
    pub wamid: String,
    /// The webhook's final HTTP status; `None` without a webhook URL or an answer.
    pub webhook_status: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InjectError {
    #[error("no business number with id {0}")]
    UnknownNumber(String),
    #[error("`from` is not a phone number: {0}")]
    BadSender(String),
    #[error("`message` must be an object with a string `type`")]
    BadMessage,
}

pub(super) async fn inject(
    shared: &Shared,
    inbound: Inbound,
) -> Result<InboundOutcome, InjectError> {
    let wa_id =
        validate::wa_id(&inbound.from).map_err(|_| InjectError::BadSender(inbound.from.clone()))?;
    let mut message = match inbound.message {
        Value::Object(m) if m.get("type").is_some_and(Value::is_string) => m,
        _ => return Err(InjectError::BadMessage),
    };
    let now = shared.now();
    let message_id = state::wamid(&wa_id);
    let body = {
        let mut inner = shared.lock();
        let number = inner
            .numbers
            .get(&inbound.phone_number_id)
            .cloned()
            .ok_or_else(|| InjectError::UnknownNumber(inbound.phone_number_id.clone()))?;
        fill_media(&inner, &mut message);
        message.insert("from".into(), wa_id.clone().into());
        message.insert("id".into(), message_id.clone().into());
        message.insert("timestamp".into(), now.timestamp().to_string().into());
        inner
            .last_inbound
            .insert((inbound.phone_number_id.clone(), wa_id.clone()), now);
        let name = inbound.name.unwrap_or_else(|| wa_id.clone());
        let mut value = Map::new();
        value.insert(
            "contacts".into(),
            json!([{"profile": {"name": name}, "wa_id": wa_id}]),
        );
        value.insert("messages".into(), json!([message]));
        webhooks::envelope(&inbound.phone_number_id, &number, value)
    };
    let post = webhooks::post(shared, body.to_string().into_bytes(), Signature::Valid).await;
    Ok(InboundOutcome {
        wamid: message_id,
        webhook_status: post.and_then(|p| p.status()),
    })
}

/// A media message naming a media id the fake holds gets its `mime_type` and `sha256`,
/// as Meta's inbound media objects carry them.
fn fill_media(inner: &state::Inner, message: &mut Map<String, Value>) {
    let Some(kind) = message
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return;
    };
    let Some(Value::Object(object)) = message.get_mut(&kind) else {
        return;
    };
    let Some(media) = object
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| inner.media.get(id))
    else {
        return;
    };
    object
        .entry("mime_type")
        .or_insert_with(|| media.mime_type.clone().into());
    object
        .entry("sha256")
        .or_insert_with(|| media.sha256.clone().into());
}

/// `POST /fake/inbound`: the HTTP face of [`inject`], for the CLI and other processes.
pub(super) async fn route(
    State(shared): State<Arc<Shared>>,
    Json(inbound): Json<Inbound>,
) -> Response {
    match inject(&shared, inbound).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(e) => {
            let status = match e {
                InjectError::UnknownNumber(_) => StatusCode::NOT_FOUND,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            (status, Json(json!({"error": e.to_string()}))).into_response()
        }
    }
}
