//! What an attempt's outcome does to its delivery, to its endpoint's run of failures and to
//! the messages its event speaks for; and which failing endpoints are disabled. Pure rules
//! over what the store read: the store loads the snapshot, asks here for the plan and
//! applies it in the same transaction.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use super::{event_types, AttemptRecord, Endpoint, MessageStatusUpdate, NewEvent, Outcome};
use crate::{
    conversations::message_status_event,
    jobs::{self, JobChange, JobSnapshot},
    messages::MessageStatus,
    TenantId,
};

/// What `finish_attempt` reads before it decides: the delivery, its event's message hook
/// and its endpoint's run of failures.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySnapshot {
    pub tenant: TenantId,
    pub event_id: String,
    pub endpoint_id: String,
    /// The delivery's job: its state, claims made, due time and lease.
    pub job: JobSnapshot,
    pub on_outcome: Option<MessageStatusUpdate>,
    /// The endpoint's current run of failures.
    pub failing_since: Option<DateTime<Utc>>,
}

/// What the store writes for one attempt, decided by [`plan_finish`].
#[derive(Debug, Clone, PartialEq)]
pub struct FinishPlan {
    pub tenant: TenantId,
    /// The attempt log's row, written for every attempt, current or not.
    pub log: AttemptRecord,
    /// `None` when the attempt is no longer the delivery's latest claim (a lease expiry let
    /// another worker claim it, or an outcome was applied): then nothing else changes.
    pub delivery: Option<JobChange>,
    /// For `log.endpoint_id`.
    pub failure_run: Option<FailureRun>,
    pub messages: Option<MessageStatusChange>,
}

impl FinishPlan {
    /// Whether the outcome was applied: the store's answer to the worker.
    pub fn is_current(&self) -> bool {
        self.delivery.is_some()
    }
}

/// A change to the endpoint's `failing_since`, planned only when a run starts or ends, so
/// attempts do not rewrite the endpoint's row one after another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureRun {
    /// A failure with no run going: the run starts at this attempt. Applied only if no run
    /// has started since the snapshot.
    Start(DateTime<Utc>),
    /// Any success ends the run.
    End,
}

/// The messages of `update` that are in one of the `replaces` statuses move to `status`.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageStatusChange {
    pub update: MessageStatusUpdate,
    pub status: MessageStatus,
    pub replaces: &'static [MessageStatus],
}

impl MessageStatusChange {
    /// What to enqueue once the store has moved `changed` messages: one `message.status`
    /// callback per real transition, so none when nothing moved (a late death after a
    /// delivery) or when the update asks for no report.
    pub fn callbacks(&self, changed: u64, now: DateTime<Utc>) -> Vec<NewEvent> {
        match &self.update.notify {
            Some(wrapper) if changed > 0 => {
                vec![message_status_event(
                    &self.update,
                    wrapper,
                    self.status,
                    now,
                )]
            }
            _ => Vec::new(),
        }
    }
}

/// The statuses a message's new `status` replaces, whoever reports it (a delivery outcome
/// or the channel's own report); never backwards. `delivery` wins over `failed`, whatever
/// order several endpoints finish in; `read` replaces every other status, and nothing
/// replaces `read`. The rule is transitive, so a run of reports about one message can be
/// applied as one change from its first status to its last.
pub fn replaced_statuses(status: MessageStatus) -> &'static [MessageStatus] {
    match status {
        MessageStatus::Delivery => &[MessageStatus::Sent, MessageStatus::Failed],
        MessageStatus::Failed => &[MessageStatus::Sent],
        MessageStatus::Read => &[
            MessageStatus::Sent,
            MessageStatus::Failed,
            MessageStatus::Delivery,
        ],
        MessageStatus::Sent => &[],
    }
}

/// The outcome rule. The log takes its event and endpoint from the delivery rather than
/// from the caller's record, and its `outcome` from `outcome`. Only the delivery's latest
/// claim, still pending, changes anything else: a retry makes it pending again at its
/// time, delivered and dead end it and set its messages' status; a success ends the
/// endpoint's run of failures, and the first failure starts one.
pub fn plan_finish(
    snapshot: DeliverySnapshot,
    attempt: &AttemptRecord,
    outcome: &Outcome,
) -> FinishPlan {
    let log = AttemptRecord {
        event_id: snapshot.event_id,
        endpoint_id: snapshot.endpoint_id,
        outcome: outcome.label().to_owned(),
        ..attempt.clone()
    };
    let Some(change) = jobs::plan_finish(&snapshot.job, attempt.attempt, outcome.verdict()) else {
        return FinishPlan {
            tenant: snapshot.tenant,
            log,
            delivery: None,
            failure_run: None,
            messages: None,
        };
    };
    let ends_as = match outcome {
        Outcome::Delivered => Some(true),
        Outcome::Retry { .. } => None,
        Outcome::Dead => Some(false),
    };
    let success = matches!(outcome, Outcome::Delivered);
    let failure_run = match (success, snapshot.failing_since) {
        (true, Some(_)) => Some(FailureRun::End),
        (false, None) => Some(FailureRun::Start(attempt.started_at)),
        (true, None) | (false, Some(_)) => None,
    };
    let messages = ends_as
        .zip(snapshot.on_outcome)
        .filter(|(_, update)| !update.msg_ids.is_empty())
        .map(|(delivered, update)| {
            let status = MessageStatusUpdate::status_for(delivered);
            MessageStatusChange {
                update,
                status,
                replaces: replaced_statuses(status),
            }
        });
    FinishPlan {
        tenant: snapshot.tenant,
        log,
        delivery: Some(change),
        failure_run,
        messages,
    }
}

/// One endpoint to disable, decided by [`plan_disable`].
#[derive(Debug, Clone, PartialEq)]
pub struct Disable {
    pub endpoint_id: String,
    pub tenant: TenantId,
    /// The endpoint's `disabled_reason`.
    pub reason: String,
    /// `endpoint.disabled`, for the tenant's endpoints that want it; enqueued after the
    /// disabling.
    pub event: NewEvent,
}

/// The auto-disable rule: of `endpoints` (as the store found them), those enabled whose run
/// of failures started at or before `cutoff`, in the order given. Their `failing_since`
/// stays, so the reason and the event can name it.
pub fn plan_disable(endpoints: &[Endpoint], cutoff: DateTime<Utc>) -> Vec<Disable> {
    endpoints
        .iter()
        .filter(|e| e.enabled)
        .filter_map(|e| Some((e, e.failing_since.filter(|since| *since <= cutoff)?)))
        .map(|(endpoint, since)| Disable {
            endpoint_id: endpoint.id.clone(),
            tenant: endpoint.tenant,
            reason: disabled_reason(since),
            event: disabled_event(endpoint, since),
        })
        .collect()
}

/// `disabled_reason` of an endpoint disabled automatically.
fn disabled_reason(failing_since: DateTime<Utc>) -> String {
    format!(
        "failing since {}",
        failing_since.to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

fn disabled_event(endpoint: &Endpoint, failing_since: DateTime<Utc>) -> NewEvent {
    let payload = json!({
        "event": event_types::ENDPOINT_DISABLED,
        "endpoint_id": endpoint.id,
        "url": endpoint.url,
        "failing_since": failing_since.timestamp(),
    });
    NewEvent::new(event_types::ENDPOINT_DISABLED, None, payload)
}

#[cfg(test)]
mod tests;
