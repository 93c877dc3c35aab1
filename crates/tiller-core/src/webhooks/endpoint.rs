//! Endpoints: where a tenant wants its events, with the secrets that sign them.

use chrono::{DateTime, Utc};

use crate::{Secret, TenantId};

#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// 32 hex.
    pub id: String,
    pub tenant: TenantId,
    pub url: String,
    /// Event types delivered here; `None` means every event.
    pub event_types: Option<Vec<String>>,
    /// Active signing secrets, newest first (several during a rotation).
    pub secrets: Vec<Secret>,
    pub enabled: bool,
    /// AES-256-GCM key (base64 of 32 bytes) when payloads are encrypted.
    pub encryption_key: Option<Secret>,
    /// Start of the current run of failures; `None` after any success.
    pub failing_since: Option<DateTime<Utc>>,
    /// Why it was disabled, when it was disabled automatically.
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Endpoint {
    pub fn wants(&self, event_type: &str) -> bool {
        self.event_types
            .as_ref()
            .is_none_or(|types| types.iter().any(|t| t == event_type))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewEndpoint {
    pub url: String,
    pub event_types: Option<Vec<String>>,
    pub secret: Secret,
    pub encryption_key: Option<Secret>,
}

/// A change to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndpointPatch {
    pub url: Option<String>,
    /// `Some(None)` subscribes to every event.
    pub event_types: Option<Option<Vec<String>>>,
    /// Enabling clears `failing_since` and `disabled_reason`.
    pub enabled: Option<bool>,
}

/// What an operator sees of an endpoint's recent deliveries.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointHealth {
    pub endpoint: Endpoint,
    pub pending: u64,
    pub delivered: u64,
    pub dead: u64,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status_code: Option<u16>,
}
