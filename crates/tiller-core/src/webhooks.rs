//! Webhooks: every event Tiller reports to an integrator leaves through one durable
//! outbox. An event row is written in the same transaction as the change that caused it,
//! with one delivery row per subscribed endpoint; delivery workers claim deliveries by
//! lease, send outside any transaction, and record each attempt. A crash loses nothing: an
//! expired lease makes the delivery claimable again, with the same event id
//! (at-least-once).

pub mod encryption;
mod endpoint;
mod endpoint_rules;
mod event;
mod outcome;
mod service;
pub mod signing;

pub use endpoint::{
    check_endpoint, delivery_jobs, Endpoint, EndpointError, EndpointHealth, EndpointPatch,
    EndpointTarget, NewEndpoint,
};
pub use endpoint_rules::{
    plan_endpoint_update, plan_rotation, EndpointUpdate, RotationPlan, SecretLife,
};
pub use event::{
    AttemptRecord, ClaimedDelivery, DeliveryState, EventQuery, EventRecord, EventSummary,
    MessageStatusUpdate, NewEvent, OutboxStats, Outcome,
};
pub use outcome::{
    plan_disable, plan_finish, replaced_statuses, DeliverySnapshot, Disable, FailureRun,
    FinishPlan, MessageStatusChange,
};
pub use service::{
    AddressPolicy, EndpointChange, EndpointRequest, IssuedEndpoint, WebhookError, Webhooks,
};

/// The body an attempt sends for an event, given the attempt's time (unix seconds): the
/// stored payload, except that `session.end`'s `timestamp` is "the time this request is
/// sent" (seed 002), so each attempt stamps its own. Other events go as stored.
pub fn payload_at_send<'a>(
    event_type: &str,
    payload: &'a serde_json::Value,
    sent_at: i64,
) -> std::borrow::Cow<'a, serde_json::Value> {
    if event_type != event_types::SESSION_END || !payload.is_object() {
        return std::borrow::Cow::Borrowed(payload);
    }
    let mut stamped = payload.clone();
    stamped["timestamp"] = serde_json::Value::from(sent_at);
    std::borrow::Cow::Owned(stamped)
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{event_types, payload_at_send};

    #[test]
    fn session_end_is_stamped_with_the_send_time_and_nothing_else_changes() {
        let end = json!({"event": "session.end", "timestamp": 100, "session_end_time": "x"});
        let sent = payload_at_send(event_types::SESSION_END, &end, 160);
        assert_eq!(sent["timestamp"], 160);
        assert_eq!(sent["session_end_time"], "x");
        let other = json!({"event": "message.send", "timestamp": 100});
        assert_eq!(
            *payload_at_send(event_types::MESSAGE_SEND, &other, 160),
            other
        );
    }
}
