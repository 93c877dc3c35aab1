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
mod service;
pub mod signing;

pub use endpoint::{
    check_endpoint, Endpoint, EndpointError, EndpointHealth, EndpointPatch, EndpointTarget,
    NewEndpoint,
};
pub use event::{
    AttemptRecord, ClaimedDelivery, DeliveryState, EventQuery, EventRecord, EventSummary,
    MessageStatusUpdate, NewEvent, OutboxStats, Outcome,
};
pub use service::{
    AddressPolicy, EndpointChange, EndpointRequest, IssuedEndpoint, WebhookError, Webhooks,
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
    /// A user's messages while an agent holds (or is about to hold) the session.
    pub const MESSAGE_RECEIVE: &str = "message.receive";
    /// A sent message's status changed (`delivery`, `failed`).
    pub const MESSAGE_STATUS: &str = "message.status";
    /// The robot asks for a human agent (spec §3.3).
    pub const SESSION_TRANSFER: &str = "session.transfer";
    /// The bot-side "ended session" callback (spec §3.4).
    pub const SESSION_CLOSE: &str = "session.close";
    /// The session end event with the conclusion and the transcript (seed 002's fields).
    pub const SESSION_END: &str = "session.end";
    /// An endpoint was disabled after failing continuously.
    pub const ENDPOINT_DISABLED: &str = "endpoint.disabled";

    /// Every type above: what an endpoint may subscribe to.
    pub const ALL: &[&str] = &[
        MESSAGE_SEND,
        MESSAGE_RECEIVE,
        MESSAGE_STATUS,
        SESSION_TRANSFER,
        SESSION_CLOSE,
        SESSION_END,
        ENDPOINT_DISABLED,
    ];
}
