//! Meta's WhatsApp webhooks (`/webhooks/whatsapp/{channel_id}`): the subscription
//! handshake and the signed event posts. Unauthenticated by design (Meta cannot sign our
//! headers), so a request proves itself by the channel's verify token or app secret, and
//! the core checks the signature before reading anything.

use axum::{
    extract::{Path, Query, State},
    http::HeaderMap,
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    http::{body::RawBody, envelope::V1Error, surface::Envelope, ApiError},
    state::AppState,
};

const SIGNATURE_HEADER: &str = "x-hub-signature-256";

pub fn routes() -> OpenApiRouter<AppState> {
    Envelope::V1.surface(OpenApiRouter::new().routes(routes!(subscribe, receive)))
}

/// Absent parameters are empty, so they are refused as a wrong token (403), not a 400.
#[derive(Debug, Deserialize)]
struct Handshake {
    #[serde(rename = "hub.mode", default)]
    mode: String,
    #[serde(rename = "hub.verify_token", default)]
    verify_token: String,
    #[serde(rename = "hub.challenge", default)]
    challenge: String,
}

/// Meta's subscription handshake: the challenge echoed as `text/plain` when the verify
/// token is the channel's.
#[utoipa::path(
    get,
    path = "/webhooks/whatsapp/{channel_id}",
    tag = "whatsapp",
    params(
        ("channel_id" = String, Path, description = "The channel's id"),
        ("hub.mode" = String, Query, description = "`subscribe`"),
        ("hub.verify_token" = String, Query, description = "The channel's verify token"),
        ("hub.challenge" = String, Query, description = "Echoed back"),
    ),
    responses(
        (status = 200, content_type = "text/plain", body = String),
        (status = 403, body = V1Error),
        (status = 404, body = V1Error)
    )
)]
async fn subscribe(
    State(app): State<AppState>,
    Path(channel_id): Path<String>,
    Query(q): Query<Handshake>,
) -> Result<String, ApiError> {
    Ok(app
        .whatsapp
        .subscribe(&channel_id, &q.mode, &q.verify_token, &q.challenge)
        .await?)
}

/// Meta's event post, signed with the app secret in `X-Hub-Signature-256`. 200 only once
/// the user messages are committed; Meta redelivers anything else.
#[utoipa::path(
    post,
    path = "/webhooks/whatsapp/{channel_id}",
    tag = "whatsapp",
    params(
        ("channel_id" = String, Path, description = "The channel's id"),
        ("X-Hub-Signature-256" = String, Header, description = "`sha256=<hex HMAC of the body>`"),
    ),
    request_body(content = Object, description = "Meta's webhook body, as sent"),
    responses(
        (status = 200, body = Object, example = json!({"ok": true})),
        (status = 400, body = V1Error),
        (status = 401, body = V1Error),
        (status = 403, body = V1Error),
        (status = 404, body = V1Error),
        (status = 503, body = V1Error)
    )
)]
async fn receive(
    State(app): State<AppState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Value>, ApiError> {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    app.whatsapp.receive(&channel_id, &body, signature).await?;
    Ok(Json(json!({"ok": true})))
}
