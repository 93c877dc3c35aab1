//! The channel's own reports (Chatbot folder, CN items), for an integrator that carries
//! the channel itself:
//! - 渠道发送的消息状态变更事件上报: the status a message Tiller handed it (or one it sent on
//!   its own) reached on the channel ([`plan_status_reports`]);
//! - 渠道发送的消息事件上报: a message the channel sent on its own, recorded in the session
//!   without a `message.send` ([`channel_message`]);
//! - 用户发送的消息事件上报: user messages recorded without a robot turn, which go through the
//!   inbound path with [`super::InboundMode::Record`].
//!
//! Statuses move by the one precedence rule, [`replaced_statuses`], and are reported with
//! the `message.status` callback a delivery outcome fires ([`MessageStatusChange`]).

use chrono::{DateTime, Utc};

use super::{message_status_update, sending_seat, Session};
use crate::{
    messages::{Content, Message, MessageStatus, SenderType},
    webhooks::{replaced_statuses, MessageStatusChange},
};

/// One status the channel reports for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub msg_id: String,
    pub status: MessageStatus,
}

/// A reported message as the store found it in the session (locked until the report
/// applies).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedMessage {
    pub msg_id: String,
    pub sender_type: SenderType,
    pub status: Option<MessageStatus>,
}

/// A reported message's status once the report applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedStatus {
    pub msg_id: String,
    pub status: Option<MessageStatus>,
    /// The report moved it; `false` when it was already there or further (never backwards).
    pub changed: bool,
}

/// What the store applies for a status report, decided by [`plan_status_reports`].
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReportPlan {
    /// Applied in order, each followed by its callbacks
    /// ([`MessageStatusChange::callbacks`]); a message is in at most one of them.
    pub changes: Vec<MessageStatusChange>,
    /// Every message named, in the order first named.
    pub statuses: Vec<ReportedStatus>,
}

/// What a status report did: applied, or refused with nothing changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusReportOutcome {
    Applied(Vec<ReportedStatus>),
    /// Why, for the caller.
    Refused(String),
}

/// The checks of a status report that need no stored message: at least one status, and
/// each one a status a channel can see (`delivery`, `read`, `failed`; `sent` is where a
/// message starts, not news).
pub fn check_status_reports(reports: &[StatusReport]) -> Result<(), String> {
    if reports.is_empty() {
        return Err("messages must hold at least one status".into());
    }
    match reports.iter().position(|r| r.status == MessageStatus::Sent) {
        Some(i) => Err(format!(
            "messages[{i}].status must be delivery, read or failed, not sent"
        )),
        None => Ok(()),
    }
}

/// Whether a channel reports the status of a message from `sender`: of what is sent to the
/// user, yes; user messages are marked read by the agent side, and system events have no
/// delivery.
pub fn reports_status(sender: SenderType) -> bool {
    !matches!(sender, SenderType::User | SenderType::System)
}

/// The status report rule. Every message named must be one of `found` (the session's) and
/// one whose status a channel reports, else the report is refused whole. Each message's
/// reports apply in order by [`replaced_statuses`] (a status that does not replace the
/// current one is ignored), and the message moves once, from its stored status to the
/// last one reached; the moves are grouped by status, each group one `message.status`
/// callback built for `company` and `session`.
pub fn plan_status_reports(
    company: &str,
    session: &Session,
    found: &[ReportedMessage],
    reports: &[StatusReport],
) -> Result<StatusReportPlan, String> {
    let mut statuses: Vec<(ReportedStatus, Option<MessageStatus>)> = Vec::new();
    for report in reports {
        let named = statuses.iter().position(|(s, _)| s.msg_id == report.msg_id);
        let i = if let Some(i) = named {
            i
        } else {
            statuses.push(first_report(session, found, &report.msg_id)?);
            statuses.len() - 1
        };
        let (now, stored) = &mut statuses[i];
        if now
            .status
            .is_some_and(|s| replaced_statuses(report.status).contains(&s))
        {
            now.status = Some(report.status);
            now.changed = now.status != *stored;
        }
    }
    let mut changes: Vec<MessageStatusChange> = Vec::new();
    for (s, _) in statuses.iter().filter(|(s, _)| s.changed) {
        let Some(status) = s.status else { continue };
        match changes.iter_mut().find(|c| c.status == status) {
            Some(change) => change.update.msg_ids.push(s.msg_id.clone()),
            None => changes.push(MessageStatusChange {
                update: message_status_update(company, session, vec![s.msg_id.clone()]),
                status,
                replaces: replaced_statuses(status),
            }),
        }
    }
    Ok(StatusReportPlan {
        changes,
        statuses: statuses.into_iter().map(|(s, _)| s).collect(),
    })
}

/// The message `msg_id` names, as found, with its stored status: it must be one of the
/// session's, and one whose status a channel reports.
fn first_report(
    session: &Session,
    found: &[ReportedMessage],
    msg_id: &str,
) -> Result<(ReportedStatus, Option<MessageStatus>), String> {
    let m = found.iter().find(|m| m.msg_id == msg_id).ok_or_else(|| {
        format!(
            "msg_id {msg_id} names no message of session {}",
            session.call_id
        )
    })?;
    if !reports_status(m.sender_type) {
        return Err(format!(
            "msg_id {msg_id} is a {} message; a channel reports the status of messages sent \
             to the user",
            m.sender_type.as_str()
        ));
    }
    let first = ReportedStatus {
        msg_id: m.msg_id.clone(),
        status: m.status,
        changed: false,
    };
    Ok((first, m.status))
}

/// Who sent a message the channel reports it sent on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelSender {
    Agent,
    AgentSystem,
    Robot,
    Chatbot,
}

impl ChannelSender {
    pub fn sender_type(self) -> SenderType {
        match self {
            Self::Agent => SenderType::Agent,
            Self::AgentSystem => SenderType::AgentSystem,
            Self::Robot => SenderType::Robot,
            Self::Chatbot => SenderType::Chatbot,
        }
    }
}

/// A message the channel sent on its own, before it is stored: its content and, when the
/// channel gives them, its id (retries are then idempotent), time and status.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelMessage {
    pub content: Content,
    pub msg_id: Option<String>,
    pub timestamp: Option<i64>,
    pub status: Option<MessageStatus>,
}

/// The stored form of `messages[index]`, sent by `sender` into `session`: a fresh id and
/// now unless given, status `sent` unless given, and the seat an agent-side message gets
/// ([`sending_seat`]; a robot's or chatbot's only when given). System events are Tiller's
/// to record, so a `system` content is refused.
pub fn channel_message(
    index: usize,
    m: ChannelMessage,
    sender: ChannelSender,
    seat_id: Option<&str>,
    session: &Session,
    now: DateTime<Utc>,
) -> Result<Message, String> {
    if matches!(m.content, Content::System(_)) {
        return Err(format!(
            "messages[{index}] is a system event; Tiller records a session's system events"
        ));
    }
    let seat = match sender {
        ChannelSender::Agent | ChannelSender::AgentSystem => sending_seat(seat_id, session),
        ChannelSender::Robot | ChannelSender::Chatbot => seat_id.unwrap_or_default().to_owned(),
    };
    Ok(Message {
        msg_id: m.msg_id.unwrap_or_else(super::new_msg_id),
        seat_id: Some(seat),
        timestamp: m.timestamp.unwrap_or_else(|| now.timestamp()),
        sender_type: sender.sender_type(),
        status: Some(m.status.unwrap_or(MessageStatus::Sent)),
        content: m.content,
        reply: None,
        extra: serde_json::Map::new(),
    })
}

#[cfg(test)]
#[path = "reports_tests.rs"]
mod tests;
