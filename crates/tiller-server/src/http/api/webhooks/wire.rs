//! Shapes of the webhook management API and CLI, and the operations both share.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tiller_core::{
    store::DynStore,
    webhooks::{
        check_endpoint, encryption, signing, AttemptRecord, Endpoint, EndpointHealth, EventSummary,
        NewEndpoint,
    },
    StoreError, TenantId,
};
use utoipa::ToSchema;

use crate::{http::ApiError, outbound::AddressGuard};

/// Instants as RFC 3339 in UTC to the second, like every `*_at` the CLI prints.
fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An endpoint, without its secrets.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointOut {
    pub endpoint_id: String,
    pub url: String,
    /// Event types delivered; `null` means every event.
    pub events: Option<Vec<String>>,
    pub enabled: bool,
    pub encrypted: bool,
    /// Since when it has been failing (RFC 3339), if it is.
    pub failing_since: Option<String>,
    pub disabled_reason: Option<String>,
    pub created_at: String,
}

impl From<&Endpoint> for EndpointOut {
    fn from(e: &Endpoint) -> Self {
        Self {
            endpoint_id: e.id.clone(),
            url: e.url.clone(),
            events: e.event_types.clone(),
            enabled: e.enabled,
            encrypted: e.encryption_key.is_some(),
            failing_since: e.failing_since.map(ts),
            disabled_reason: e.disabled_reason.clone(),
            created_at: ts(e.created_at),
        }
    }
}

/// A new endpoint with its secrets, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedEndpointOut {
    #[serde(flatten)]
    pub endpoint: EndpointOut,
    /// `whsec_…`: verifies `webhook-signature` (Standard Webhooks) and `X-AIRudder-Sign`.
    pub secret: String,
    /// Base64 AES-256-GCM key, when payloads are encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_key: Option<String>,
}

/// Checks the URL and the event types (core's rule), then whether the outbound guard
/// would refuse the URL's address. The guard runs again at each delivery, since DNS can
/// change. `force` stores what the guard refuses and unknown event types.
pub async fn validate_endpoint(
    guard: &AddressGuard,
    url: &str,
    events: Option<&[String]>,
    force: bool,
) -> Result<(), ApiError> {
    let target =
        check_endpoint(url, events, force).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if !force {
        guard.check_target(&target).await.map_err(|e| {
            ApiError::bad_request(format!(
                "url: {e} (set force to store it anyway; deliveries stay refused until then)"
            ))
        })?;
    }
    Ok(())
}

/// What a new endpoint is made of.
pub struct EndpointRequest {
    pub url: String,
    pub events: Option<Vec<String>>,
    pub encrypt: bool,
    pub force: bool,
}

pub async fn create_endpoint(
    store: &DynStore,
    guard: &AddressGuard,
    t: TenantId,
    req: EndpointRequest,
    now: DateTime<Utc>,
) -> Result<CreatedEndpointOut, ApiError> {
    let EndpointRequest {
        url,
        events,
        encrypt,
        force,
    } = req;
    validate_endpoint(guard, &url, events.as_deref(), force).await?;
    let new = NewEndpoint {
        url,
        event_types: events,
        secret: signing::new_secret(),
        encryption_key: encrypt.then(encryption::new_key),
    };
    let endpoint = store.create_endpoint(t, &new, now).await?;
    Ok(CreatedEndpointOut {
        endpoint: (&endpoint).into(),
        secret: new.secret.expose().to_owned(),
        encryption_key: new.encryption_key.map(|k| k.expose().to_owned()),
    })
}

/// A new secret for an endpoint; the old ones keep signing for `grace`.
pub async fn rotate_secret(
    store: &DynStore,
    t: TenantId,
    endpoint_id: &str,
    grace: Duration,
    now: DateTime<Utc>,
) -> Result<CreatedEndpointOut, ApiError> {
    let secret = signing::new_secret();
    let endpoint = store
        .rotate_secret(t, endpoint_id, &secret, now + grace, now)
        .await
        .map_err(not_found("endpoint"))?;
    Ok(CreatedEndpointOut {
        endpoint: (&endpoint).into(),
        secret: secret.expose().to_owned(),
        encryption_key: None,
    })
}

/// Maps `NotFound` to a message naming what was not found.
pub fn not_found(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::not_found(format!("no such {what}")),
        other => other.into(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointHealthOut {
    #[serde(flatten)]
    pub endpoint: EndpointOut,
    pub pending: u64,
    pub delivered: u64,
    pub dead: u64,
    pub last_attempt_at: Option<String>,
    pub last_status_code: Option<u16>,
}

impl From<&EndpointHealth> for EndpointHealthOut {
    fn from(h: &EndpointHealth) -> Self {
        Self {
            endpoint: (&h.endpoint).into(),
            pending: h.pending,
            delivered: h.delivered,
            dead: h.dead,
            last_attempt_at: h.last_attempt_at.map(ts),
            last_status_code: h.last_status_code,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    pub endpoint_id: String,
    /// `pending`, `delivered` or `dead`.
    pub status: &'static str,
    pub attempts: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    pub event_id: String,
    pub event_type: String,
    pub created_at: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub deliveries: Vec<DeliveryOut>,
}

impl From<&EventSummary> for EventOut {
    fn from(s: &EventSummary) -> Self {
        Self {
            event_id: s.event.event_id.clone(),
            event_type: s.event.event_type.clone(),
            created_at: ts(s.event.created_at),
            payload: s.event.payload.clone(),
            deliveries: s
                .deliveries
                .iter()
                .map(|(endpoint_id, state, attempts)| DeliveryOut {
                    endpoint_id: endpoint_id.clone(),
                    status: state.as_str(),
                    attempts: *attempts,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    pub endpoint_id: String,
    pub attempt: u32,
    pub started_at: String,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    pub response_excerpt: String,
    pub error: Option<String>,
    /// `delivered`, `retry` or `dead`.
    pub outcome: String,
}

impl From<&AttemptRecord> for AttemptOut {
    fn from(a: &AttemptRecord) -> Self {
        Self {
            endpoint_id: a.endpoint_id.clone(),
            attempt: a.attempt,
            started_at: ts(a.started_at),
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            response_excerpt: a.response_excerpt.clone(),
            error: a.error.clone(),
            outcome: a.outcome.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayOut {
    /// Deliveries made pending again.
    pub replayed: u64,
}
