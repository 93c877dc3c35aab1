//! Endpoints: where a tenant wants its events, with the secrets that sign them.

use std::net::IpAddr;

use chrono::{DateTime, Utc};

use crate::{
    jobs::{JobKind, NewJob},
    Secret, TenantId,
};

use super::event_types;

/// Where an endpoint's URL points, for the address check that needs the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointTarget {
    Ip(IpAddr),
    /// A DNS name, with the URL's port (or the scheme's).
    Domain(String, u16),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("url: {0}")]
    Url(String),
    #[error("url must be an http or https URL with a host")]
    Scheme,
    #[error("events must name at least one event type; leave it out for every event")]
    NoEvents,
    #[error("unknown event type {0:?}; known types: {known}", known = event_types::ALL.join(", "))]
    UnknownEvent(String),
}

/// The rules an endpoint's URL and event list meet before it is stored: an http(s) URL
/// with a host, and known event types. Returns what the
/// address check (the outbound guard, which also runs at every delivery) must look at.
/// With `force`, unknown event types are accepted (the caller said so explicitly).
pub fn check_endpoint(
    url: &str,
    events: Option<&[String]>,
    force: bool,
) -> Result<EndpointTarget, EndpointError> {
    let parsed = url::Url::parse(url).map_err(|e| EndpointError::Url(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(EndpointError::Scheme);
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    let target = match parsed.host() {
        None => return Err(EndpointError::Scheme),
        Some(url::Host::Ipv4(ip)) => EndpointTarget::Ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => EndpointTarget::Ip(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            EndpointTarget::Domain(name.trim_end_matches('.').to_ascii_lowercase(), port)
        }
    };
    if let Some(events) = events {
        if events.is_empty() || events.iter().any(|e| e.trim().is_empty()) {
            return Err(EndpointError::NoEvents);
        }
        if !force {
            if let Some(unknown) = events
                .iter()
                .find(|e| !event_types::ALL.contains(&e.as_str()))
            {
                return Err(EndpointError::UnknownEvent(unknown.clone()));
            }
        }
    }
    Ok(target)
}

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

    /// Whether the lane of its deliveries is held: a disabled endpoint's deliveries wait
    /// until it is enabled again, so nothing accepted is lost.
    pub fn holds_deliveries(&self) -> bool {
        !self.enabled
    }
}

/// The delivery jobs of one stored event (`event_seq`): one per endpoint of `subscribers`
/// that wants its type, enabled or not, due at `now`, ordered by the event's key within
/// the endpoint's lane. A store that writes the event and its jobs in one statement plans
/// them before the event has a seq, and fills the subject in itself.
pub fn delivery_jobs(
    subscribers: &[Endpoint],
    event_type: &str,
    ordering_key: Option<&str>,
    event_seq: i64,
    now: DateTime<Utc>,
) -> Vec<NewJob> {
    subscribers
        .iter()
        .filter(|s| s.wants(event_type))
        .map(|s| NewJob {
            kind: JobKind::WebhookDelivery,
            tenant: s.tenant,
            lane: s.id.clone(),
            order_key: ordering_key.map(str::to_owned),
            subject: event_seq,
            due_at: now,
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn events(list: &[&str]) -> Vec<String> {
        list.iter().map(|&e| e.to_owned()).collect()
    }

    #[test]
    fn urls_name_a_host_over_http_or_https() {
        assert_eq!(
            check_endpoint("https://hooks.example.com/x", None, false),
            Ok(EndpointTarget::Domain("hooks.example.com".into(), 443))
        );
        assert_eq!(
            check_endpoint("http://10.0.0.5:8080/x", None, false),
            Ok(EndpointTarget::Ip("10.0.0.5".parse().unwrap()))
        );
        assert_eq!(
            check_endpoint("http://[::1]/x", None, false),
            Ok(EndpointTarget::Ip("::1".parse().unwrap()))
        );
        assert_eq!(
            check_endpoint("ftp://x/y", None, false),
            Err(EndpointError::Scheme)
        );
        assert!(matches!(
            check_endpoint("not a url", None, false),
            Err(EndpointError::Url(_))
        ));
        // Names are left to the address policy, which resolves them.
        assert_eq!(
            check_endpoint("http://api.LOCALHOST./x", None, false),
            Ok(EndpointTarget::Domain("api.localhost".into(), 80))
        );
    }

    #[test]
    fn events_are_known_types_unless_forced() {
        let ok = events(&["message.send", "session.end"]);
        assert!(check_endpoint("https://h/x", Some(&ok), false).is_ok());
        let typo = events(&["message.sent"]);
        let err = check_endpoint("https://h/x", Some(&typo), false).unwrap_err();
        assert_eq!(err, EndpointError::UnknownEvent("message.sent".into()));
        assert!(err.to_string().contains("message.send"), "{err}");
        assert!(check_endpoint("https://h/x", Some(&typo), true).is_ok());
        assert_eq!(
            check_endpoint("https://h/x", Some(&[]), true),
            Err(EndpointError::NoEvents)
        );
    }
}
