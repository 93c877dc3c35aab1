//! Events, their deliveries to endpoints, and the attempt log.

use chrono::{DateTime, Utc};

use super::Endpoint;
use crate::{
    conversations::CallId,
    jobs::{JobState, Verdict},
    messages::MessageStatus,
    TenantId,
};

/// An event to write into the outbox, in the transaction of the change that caused it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Stable across every attempt and replay: the Standard Webhooks `webhook-id`.
    pub event_id: String,
    pub event_type: String,
    /// Events with the same key reach an endpoint in the order they were written (a
    /// session's `call_id`); `None` for events with no order to keep.
    pub ordering_key: Option<String>,
    /// The JSON body sent.
    pub payload: serde_json::Value,
    /// Message statuses to set when the delivery succeeds or dies (the `message.send`
    /// event of a custom channel).
    pub on_outcome: Option<MessageStatusUpdate>,
}

impl NewEvent {
    pub fn new(event_type: &str, ordering_key: Option<String>, payload: serde_json::Value) -> Self {
        Self {
            event_id: crate::ids::random_hex32(),
            event_type: event_type.to_owned(),
            ordering_key,
            payload,
            on_outcome: None,
        }
    }
}

/// Which messages a delivery's outcome speaks for.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MessageStatusUpdate {
    pub call_id: CallId,
    pub msg_ids: Vec<String>,
    /// The wrapper of the `message.status` event to report the change with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<serde_json::Value>,
}

impl MessageStatusUpdate {
    /// The status a message takes when its delivery ends this way.
    pub fn status_for(delivered: bool) -> MessageStatus {
        if delivered {
            MessageStatus::Delivery
        } else {
            MessageStatus::Failed
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRecord {
    pub event_id: String,
    pub tenant: TenantId,
    pub event_type: String,
    pub ordering_key: Option<String>,
    pub payload: serde_json::Value,
    pub on_outcome: Option<MessageStatusUpdate>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its next attempt, or leased to a worker that is attempting it.
    Pending,
    Delivered,
    /// Retries exhausted; replay makes it pending again.
    Dead,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }

    /// The state of the delivery's job: a delivery is a job of kind
    /// [`JobKind::WebhookDelivery`](crate::jobs::JobKind), "delivered" its "done".
    pub fn job_state(self) -> JobState {
        match self {
            Self::Pending => JobState::Pending,
            Self::Delivered => JobState::Done,
            Self::Dead => JobState::Dead,
        }
    }
}

impl From<JobState> for DeliveryState {
    fn from(s: JobState) -> Self {
        match s {
            JobState::Pending => Self::Pending,
            JobState::Done => Self::Delivered,
            JobState::Dead => Self::Dead,
        }
    }
}

/// A delivery a worker has leased: attempt it, then report the outcome before the lease
/// ends (or lose it to another worker).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub delivery_id: i64,
    pub event: EventRecord,
    pub endpoint: Endpoint,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub lease_until: DateTime<Utc>,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered,
    Retry { at: DateTime<Utc> },
    Dead,
}

impl From<Verdict> for Outcome {
    /// A delivery counts every claim as an attempt, so a reschedule is logged as a retry.
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Done => Self::Delivered,
            Verdict::Retry { at } | Verdict::Reschedule { at } => Self::Retry { at },
            Verdict::GiveUp => Self::Dead,
        }
    }
}

impl Outcome {
    /// What the outcome does to the delivery's job.
    pub fn verdict(&self) -> Verdict {
        match self {
            Self::Delivered => Verdict::Done,
            Self::Retry { at } => Verdict::Retry { at: *at },
            Self::Dead => Verdict::GiveUp,
        }
    }

    /// The attempt log's `outcome` and the metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retry { .. } => "retry",
            Self::Dead => "dead",
        }
    }
}

/// One row of the attempt log.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub delivery_id: i64,
    pub event_id: String,
    pub endpoint_id: String,
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    /// The first bytes of the response body.
    pub response_excerpt: String,
    /// Why it failed when no response came (timeout, refused address, …).
    pub error: Option<String>,
    /// `delivered`, `retry` or `dead`.
    pub outcome: String,
}

/// Filters for listing events.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventQuery {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only events with a delivery in this state.
    pub state: Option<DeliveryState>,
    pub limit: u32,
}

/// An event with the state of each of its deliveries.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSummary {
    pub event: EventRecord,
    /// `(endpoint_id, state, attempts made)`.
    pub deliveries: Vec<(String, DeliveryState, u32)>,
}

/// Outbox gauges for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    pub pending: u64,
    pub in_flight: u64,
}
