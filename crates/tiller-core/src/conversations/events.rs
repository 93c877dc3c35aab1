//! The webhook events a conversation produces, in the shapes of the AIRUDDER callbacks.

use serde_json::{json, Value};

use super::Session;
use crate::{
    messages::Message,
    webhooks::{event_types, MessageStatusUpdate, NewEvent},
};

/// `message.send` (spec §3.2): messages Tiller sends into a session on a custom channel,
/// for the integrator to deliver. Ordered per session; its delivery outcome becomes the
/// messages' status (`delivery` once delivered, `failed` once dead).
pub fn message_send_event(company: &str, session: &Session, messages: &[Message]) -> NewEvent {
    let items: Vec<Value> = messages
        .iter()
        .map(|m| {
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
        })
        .collect();
    let payload = json!({
        "event": event_types::MESSAGE_SEND,
        "call_id": session.call_id,
        "company": company,
        "channel": session.channel,
        "channel_id": session.channel_id,
        "user": { "id": session.user.id, "name": session.user.name },
        "messages": items,
    });
    let mut event = NewEvent::new(
        event_types::MESSAGE_SEND,
        Some(session.call_id.to_string()),
        payload,
    );
    event.on_outcome = Some(MessageStatusUpdate {
        call_id: session.call_id.clone(),
        msg_ids: messages.iter().map(|m| m.msg_id.clone()).collect(),
    });
    event
}
