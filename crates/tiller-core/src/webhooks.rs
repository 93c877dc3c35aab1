//! Webhooks: every event Tiller reports to an integrator leaves through one durable
//! outbox. An event row is written in the same transaction as the change that caused it,
//! with one delivery row per subscribed endpoint; delivery workers claim deliveries by
//! lease, send outside any transaction, and record each attempt. A crash loses nothing: an
//! expired lease makes the delivery claimable again, with the same event id
//! (at-least-once).

pub mod encryption;
mod endpoint;
mod event;
pub mod schedule;
pub mod signing;

pub use endpoint::{Endpoint, EndpointHealth, EndpointPatch, NewEndpoint};
pub use event::{
    AttemptRecord, ClaimedDelivery, DeliveryState, EventQuery, EventRecord, EventSummary,
    MessageStatusUpdate, NewEvent, OutboxStats, Outcome,
};

/// Told when events were enqueued, so an idle delivery worker starts at once instead of at
/// its next poll.
pub trait OutboxWaker: Send + Sync {
    fn wake(&self);
}

/// For callers with no worker to wake (one-shot CLI commands).
#[derive(Debug, Default)]
pub struct NoWaker;

impl OutboxWaker for NoWaker {
    fn wake(&self) {}
}

/// Event types Tiller emits.
pub mod event_types {
    /// Messages Tiller sends into a session on a custom channel (spec §3.2 shape).
    pub const MESSAGE_SEND: &str = "message.send";
    /// An endpoint was disabled after failing continuously.
    pub const ENDPOINT_DISABLED: &str = "endpoint.disabled";
}
