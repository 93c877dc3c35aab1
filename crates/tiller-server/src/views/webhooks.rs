//! The JSON shapes of webhook management: served by `/api/v1/webhook/...` and printed by
//! `tiller webhook ...`, alike.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tiller_core::webhooks::{
    AttemptRecord, Endpoint, EndpointHealth, EventSummary, IssuedEndpoint,
};
use utoipa::ToSchema;

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

impl From<IssuedEndpoint> for CreatedEndpointOut {
    fn from(issued: IssuedEndpoint) -> Self {
        Self {
            endpoint: (&issued.endpoint).into(),
            secret: issued.secret.expose().to_owned(),
            encryption_key: issued.encryption_key.map(|k| k.expose().to_owned()),
        }
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
