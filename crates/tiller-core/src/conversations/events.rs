//! The webhook events a conversation produces, in the shapes of the AIRUDDER callbacks.
//! Each is built by the change that causes it and written in the same transaction.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::Session;
use crate::{
    messages::{listed, Message, MessageStatus, ReplyShape},
    webhooks::{event_types, MessageStatusUpdate, NewEvent},
};

/// `{event, call_id, company, channel, channel_id, user}`: the wrapper every session
/// callback shares.
fn wrapper(event: &str, company: &str, session: &Session) -> Value {
    json!({
        "event": event,
        "call_id": session.call_id,
        "company": company,
        "channel": session.channel,
        "channel_id": session.channel_id,
        "user": { "id": session.user.id, "name": session.user.name },
    })
}

/// A message as the callbacks list it: `{msg_id, sender_type, timestamp, content, reply?}`.
fn callback_message(m: &Message) -> Value {
    let m = &listed(m, ReplyShape::Full);
    let mut item = json!({
        "msg_id": m.msg_id,
        "sender_type": m.sender_type,
        "timestamp": m.timestamp,
        "content": m.content,
    });
    if let Some(reply) = &m.reply {
        item["reply"] = json!(reply);
    }
    item
}

fn messages_event(event: &str, company: &str, session: &Session, messages: &[Message]) -> NewEvent {
    let mut payload = wrapper(event, company, session);
    payload["messages"] = messages.iter().map(callback_message).collect();
    NewEvent::new(event, Some(session.call_id.to_string()), payload)
}

/// `message.send` (spec §3.2): messages Tiller sends into a session on a custom channel,
/// for the integrator to deliver. Ordered per session; its delivery outcome becomes the
/// messages' status (`delivery` once delivered, `failed` once dead) and is reported as
/// `message.status`.
pub fn message_send_event(company: &str, session: &Session, messages: &[Message]) -> NewEvent {
    let mut event = messages_event(event_types::MESSAGE_SEND, company, session, messages);
    let msg_ids = messages.iter().map(|m| m.msg_id.clone()).collect();
    event.on_outcome = Some(message_status_update(company, session, msg_ids));
    event
}

/// The messages `msg_ids` of `session` whose status changes are reported as
/// `message.status`, whoever reports them (a `message.send` delivery outcome, or the
/// channel's own status report).
pub fn message_status_update(
    company: &str,
    session: &Session,
    msg_ids: Vec<String>,
) -> MessageStatusUpdate {
    MessageStatusUpdate {
        call_id: session.call_id.clone(),
        msg_ids,
        notify: Some(wrapper(event_types::MESSAGE_STATUS, company, session)),
    }
}

/// `message.receive`: what the user writes while the session waits for or is held by an
/// agent ("callback message sent by user after transfer").
pub fn message_receive_event(company: &str, session: &Session, messages: &[Message]) -> NewEvent {
    messages_event(event_types::MESSAGE_RECEIVE, company, session, messages)
}

/// `message.status`: the status `msg_ids` took, from the `notify` wrapper a
/// [`MessageStatusUpdate`] carries.
pub fn message_status_event(
    update: &MessageStatusUpdate,
    wrapper: &Value,
    status: MessageStatus,
    now: DateTime<Utc>,
) -> NewEvent {
    let mut payload = wrapper.clone();
    payload["messages"] = update
        .msg_ids
        .iter()
        .map(|id| json!({ "msg_id": id, "status": status, "timestamp": now.timestamp() }))
        .collect();
    NewEvent::new(
        event_types::MESSAGE_STATUS,
        Some(update.call_id.to_string()),
        payload,
    )
}

/// What a robot concluded about a session: the slots it captured, its intention label,
/// event labels and how many exchanges it had. Read from the stored dialogue state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conclusion {
    pub record_slots: Map<String, Value>,
    pub output_label: String,
    pub event_label: Map<String, Value>,
    pub talk_round: u64,
}

impl Conclusion {
    /// From a session's dialogue; empty when no robot ran.
    pub fn of(session: &Session) -> Self {
        let state = session.dialogue();
        Self {
            record_slots: state.slots,
            output_label: state.intention.unwrap_or_default(),
            event_label: state.event_labels,
            talk_round: u64::from(state.talk_round),
        }
    }
}

/// `session.transfer` (spec §3.3): the robot asks for a human agent.
pub fn session_transfer_event(
    company: &str,
    session: &Session,
    conclusion: &Conclusion,
) -> NewEvent {
    let mut payload = wrapper(event_types::SESSION_TRANSFER, company, session);
    payload["conclusion"] = json!({
        "record_slots": conclusion.record_slots,
        "output_label": conclusion.output_label,
    });
    NewEvent::new(
        event_types::SESSION_TRANSFER,
        Some(session.call_id.to_string()),
        payload,
    )
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The two callbacks of a session's end, for a session as it stands once closed and its
/// whole transcript:
/// - `session.close`, the bot-side "ended session" callback (spec §3.4, whose shape is
///   undocumented: the §3.3 wrapper with the conclusion and the end reason);
/// - `session.end`, the "session end event" with the fields of seed 002 (intention,
///   talk_round, ner_slots, event_label, times in UTC ISO-8601, the transcript).
pub fn session_end_events(
    company: &str,
    session: &Session,
    conclusion: &Conclusion,
    transcript: &[Message],
) -> Vec<NewEvent> {
    let reason = session
        .end_reason
        .map(super::EndReason::as_str)
        .unwrap_or_default();
    let ended = session.ended_at.unwrap_or(session.updated_at);
    let mut close = wrapper(event_types::SESSION_CLOSE, company, session);
    close["conclusion"] = json!({
        "record_slots": conclusion.record_slots,
        "output_label": conclusion.output_label,
        "session_end_reason": reason,
    });
    let mut end = wrapper(event_types::SESSION_END, company, session);
    let fields = json!({
        "robot_id": session.robot_id.clone().unwrap_or_default(),
        "status": "closed",
        // Stamped again by each delivery attempt (`webhooks::payload_at_send`).
        "timestamp": ended.timestamp(),
        "session_start_time": iso(session.started_at),
        "session_end_time": iso(ended),
        "session_end_reason": reason,
        "intention": conclusion.output_label,
        "talk_round": conclusion.talk_round,
        "ner_slots": conclusion.record_slots,
        "event_label": conclusion.event_label,
        "variables": session.variables,
        "messages": transcript.iter().map(|m| listed(m, ReplyShape::Full)).collect::<Vec<_>>(),
    });
    if let (Some(end), Some(fields)) = (end.as_object_mut(), fields.as_object()) {
        end.extend(fields.clone());
    }
    let key = Some(session.call_id.to_string());
    vec![
        NewEvent::new(event_types::SESSION_CLOSE, key.clone(), close),
        NewEvent::new(event_types::SESSION_END, key, end),
    ]
}
