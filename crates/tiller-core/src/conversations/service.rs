//! The conversation rules, between the HTTP handlers and the store: what an inbound user
//! message or an agent message must look like, which system messages a change records,
//! and what the node hears after each commit (the [`CommitBus`]).

use std::sync::Arc;

use chrono::Duration;

use super::{
    message_send_event, session_end_events, system_message, CallId, Conclusion, EndReason, Inbound,
    InboundMode, MessageQuery, NewSession, Session, SessionChange, SessionFacts, SessionQuery,
    SessionState, SortOrder, StoredMessage,
};
use crate::{
    bus::{CommitBus, Committed},
    messages::{
        answered_message, is_pick, reply_to, Content, InlineReply, Message, MessageStatus, Reply,
        SenderType, SystemEventKind,
    },
    store::DynStore,
    tenant::Tenant,
    Entity, SharedClock, StoreError, TenantId, Unique,
};

/// Longest text an agent may send (spec §3.6).
pub const MAX_TEXT_CHARS: usize = 2096;
/// Most messages one inbound call may carry.
pub const MAX_INBOUND_MESSAGES: usize = 100;
/// The *query message list API returns the last 24 hours.
pub const RECENT_WINDOW: Duration = Duration::hours(24);
/// How many of a session's latest messages a pick may answer.
const PICK_LOOKBACK: u32 = 50;
/// How often a compare-and-set session change is retried after the session moved.
const MAX_CHANGE_TRIES: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ConversationError {
    #[error("session {0} not found")]
    SessionNotFound(CallId),
    #[error("{0}")]
    Rejected(String),
    #[error("{0}")]
    Invalid(String),
    /// The store names only the column, so the message cannot name the id.
    #[error("a message's msg_id is already used by another session of this tenant")]
    DuplicateMsgId,
    /// The session kept changing under a compare-and-set update; the caller may retry.
    #[error("the session is busy; try again")]
    Busy,
    #[error(transparent)]
    Store(StoreError),
}

pub(super) type Result<T> = std::result::Result<T, ConversationError>;

/// An inbound user message before it is stored: its content and, when the integrator
/// supplied them, its id (for idempotent retries) and time.
#[derive(Debug, Clone, PartialEq)]
pub struct UserMessage {
    pub content: Content,
    pub msg_id: Option<String>,
    pub timestamp: Option<i64>,
    /// The `msg_id` of the message this one answers (a WhatsApp quote or reaction), made
    /// its `reply`.
    pub reply_to: Option<String>,
}

/// Who sends an agent-side message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentSender {
    Agent,
    AgentSystem,
}

/// How a call names its session: by `call_id`, or by the user on a channel account
/// (resolved by [`Conversations::resolve_session`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionRef {
    pub call_id: Option<CallId>,
    pub channel_id: Option<String>,
    pub user_id: Option<String>,
}

#[derive(Clone)]
pub struct Conversations {
    pub(super) store: DynStore,
    pub(super) clock: SharedClock,
    /// Told after each commit that made a robot turn or deliveries due.
    pub(super) bus: Arc<CommitBus>,
}

impl Conversations {
    pub fn new(store: DynStore, clock: SharedClock, bus: Arc<CommitBus>) -> Self {
        Self { store, clock, bus }
    }

    /// Tells the node what a committed change made due.
    fn committed(&self, t: TenantId, session: &Session, enqueued_events: bool) {
        if enqueued_events {
            self.bus.publish(&Committed::EventsEnqueued);
        }
        if session.turn_due.is_some() {
            self.bus.publish(&Committed::TurnDue {
                tenant: t,
                call_id: session.call_id.clone(),
            });
        }
    }

    /// Records a user's messages (opening the session on first contact) and hands them
    /// to the engine once they are committed. While an agent holds the session (or is
    /// asked to), the messages go to the agent side as `message.receive` instead.
    pub async fn receive(
        &self,
        tenant: &Tenant,
        session: NewSession,
        messages: Vec<UserMessage>,
    ) -> Result<Inbound> {
        self.inbound(tenant, session, messages, InboundMode::Answer)
            .await
    }

    /// Records user messages the channel has handled itself (用户发送的消息事件上报): stored
    /// like [`Self::receive`]'s (the session opened or reopened alike, retries idempotent by
    /// `msg_id`), but answered by nobody and forwarded to nobody ([`InboundMode::Record`]).
    pub async fn record_user_messages(
        &self,
        tenant: &Tenant,
        session: NewSession,
        messages: Vec<UserMessage>,
    ) -> Result<Inbound> {
        self.inbound(tenant, session, messages, InboundMode::Record)
            .await
    }

    async fn inbound(
        &self,
        tenant: &Tenant,
        session: NewSession,
        messages: Vec<UserMessage>,
        mode: InboundMode,
    ) -> Result<Inbound> {
        check_message_count(messages.len())?;
        let now = self.clock.now();
        let quoted: Vec<Option<String>> = messages.iter().map(|m| m.reply_to.clone()).collect();
        let mut messages: Vec<Message> = messages
            .into_iter()
            .map(|m| Message {
                msg_id: m.msg_id.unwrap_or_else(super::new_msg_id),
                seat_id: Some(String::new()),
                timestamp: m.timestamp.unwrap_or_else(|| now.timestamp()),
                sender_type: SenderType::User,
                status: Some(MessageStatus::Delivery),
                content: m.content,
                reply: None,
                extra: serde_json::Map::new(),
            })
            .collect();
        self.point_at_quoted(tenant.id, &session.call_id, &mut messages, &quoted)
            .await?;
        self.point_picks_at_prompts(tenant.id, &session.call_id, &mut messages)
            .await?;
        let start = system_message(&SystemEventKind::Start, "", "", now);
        let inbound = self
            .store
            .record_inbound(
                tenant.id,
                &session,
                &messages,
                &start,
                &tenant.company,
                mode,
                now,
            )
            .await
            .map_err(|e| match e {
                StoreError::NotFound(Entity::Robot) => ConversationError::Invalid(format!(
                    "robot_id {} names no robot of this tenant",
                    session.robot_id.as_deref().unwrap_or_default()
                )),
                other => store_error(other, &session.call_id),
            })?;
        if inbound.inserted > 0 {
            let forwarded = mode.forwards(SessionFacts::from(&inbound.session).answerer());
            self.committed(tenant.id, &inbound.session, forwarded);
        }
        Ok(inbound)
    }

    /// Sets the `reply` of each message that names the message it answers: the full
    /// message when it is among the session's latest or earlier in this call, else its id
    /// with an `unavailable` content (the quoted message may predate Tiller, or be one
    /// whose id Tiller does not know yet).
    async fn point_at_quoted(
        &self,
        t: TenantId,
        call_id: &CallId,
        messages: &mut [Message],
        quoted: &[Option<String>],
    ) -> Result<()> {
        if quoted.iter().all(Option::is_none) {
            return Ok(());
        }
        let recent = self.recent_messages(t, call_id).await?;
        for (i, id) in quoted.iter().enumerate() {
            let Some(id) = id else { continue };
            let (earlier, rest) = messages.split_at_mut(i);
            let found = recent
                .iter()
                .chain(earlier.iter())
                .find(|r| &r.msg_id == id);
            let reply = match found {
                Some(answered) => reply_to(answered),
                None => Reply::Inline(InlineReply {
                    msg_id: Some(id.clone()),
                    // A content needs a `type`; this one says there is none to show.
                    content: Content::Other(serde_json::json!({"type": "unavailable"})),
                }),
            };
            if let Some(m) = rest.first_mut() {
                m.reply = Some(Box::new(reply));
            }
        }
        Ok(())
    }

    /// The session's latest messages, newest first; none for a session not opened yet.
    async fn recent_messages(&self, t: TenantId, call_id: &CallId) -> Result<Vec<Message>> {
        let q = MessageQuery {
            call_id: call_id.clone(),
            after_msg_id: None,
            since: None,
            size: PICK_LOOKBACK,
            order: SortOrder::NewestFirst,
        };
        match self.store.list_messages(t, &q).await {
            Ok(page) => Ok(page.into_iter().map(|m| m.message).collect()),
            Err(StoreError::NotFound(_)) => Ok(Vec::new()),
            Err(other) => Err(ConversationError::Store(other)),
        }
    }

    /// Sets the `reply` of each user pick (button, list row, template button) to the
    /// message it answers, among the session's latest messages (`messages::answered_message`).
    async fn point_picks_at_prompts(
        &self,
        t: TenantId,
        call_id: &CallId,
        messages: &mut [Message],
    ) -> Result<()> {
        if !messages.iter().any(|m| is_pick(&m.content)) {
            return Ok(());
        }
        let recent = self.recent_messages(t, call_id).await?;
        for m in messages.iter_mut().filter(|m| m.reply.is_none()) {
            if let Some(answered) = answered_message(&m.content, &recent) {
                m.reply = Some(Box::new(reply_to(answered)));
            }
        }
        Ok(())
    }

    /// Sends one agent-side message into an open session (spec §3.6) and, in the same
    /// transaction, the `message.send` event that hands it to the integrator's channel.
    pub async fn send(
        &self,
        tenant: &Tenant,
        call_id: &CallId,
        sender: AgentSender,
        content: Content,
        seat_id: Option<&str>,
    ) -> Result<StoredMessage> {
        validate_agent_content(&content)?;
        let session = self.session(tenant.id, call_id).await?;
        let now = self.clock.now();
        let message = Message {
            msg_id: super::new_msg_id(),
            seat_id: Some(super::sending_seat(seat_id, &session)),
            timestamp: now.timestamp(),
            sender_type: match sender {
                AgentSender::Agent => SenderType::Agent,
                AgentSender::AgentSystem => SenderType::AgentSystem,
            },
            status: Some(MessageStatus::Sent),
            content,
            reply: None,
            extra: serde_json::Map::new(),
        };
        let event = message_send_event(&tenant.company, &session, std::slice::from_ref(&message));
        let stored = self
            .store
            .append_message(tenant.id, call_id, &message, &[event], now)
            .await
            .map_err(|e| store_error(e, call_id))?;
        self.bus.publish(&Committed::EventsEnqueued);
        Ok(stored)
    }

    pub async fn session(&self, t: TenantId, call_id: &CallId) -> Result<Session> {
        self.store
            .session(t, call_id)
            .await
            .map_err(|e| store_error(e, call_id))
    }

    /// The session a call means: its `call_id`, or else the latest session of the user on
    /// the channel account.
    pub async fn resolve_session(&self, t: TenantId, by: &SessionRef) -> Result<CallId> {
        match (&by.call_id, &by.channel_id, &by.user_id) {
            (Some(call_id), _, _) => Ok(call_id.clone()),
            (None, Some(channel_id), Some(user_id)) => {
                Ok(self.latest_session(t, channel_id, user_id).await?.call_id)
            }
            _ => Err(ConversationError::Invalid(
                "give call_id, or channel_id and user.id".into(),
            )),
        }
    }

    /// The session a user has on a channel account, for calls that name no `call_id`.
    pub async fn latest_session(
        &self,
        t: TenantId,
        channel_id: &str,
        user_id: &str,
    ) -> Result<Session> {
        let q = SessionQuery {
            channel_id: Some(channel_id.to_owned()),
            user_id: Some(user_id.to_owned()),
            size: 1,
            ..SessionQuery::default()
        };
        let found = self
            .store
            .list_sessions(t, &q)
            .await
            .map_err(ConversationError::Store)?;
        found.into_iter().next().ok_or_else(|| {
            ConversationError::Invalid(format!(
                "no session for user {user_id} on channel_id {channel_id}; give call_id"
            ))
        })
    }

    pub async fn sessions(&self, t: TenantId, q: &SessionQuery) -> Result<Vec<Session>> {
        self.store.list_sessions(t, q).await.map_err(|e| match e {
            StoreError::NotFound(Entity::Session) => {
                ConversationError::Invalid("last_call_id names no session".into())
            }
            other => ConversationError::Store(other),
        })
    }

    /// A page of messages; `recent_only` applies the 24-hour window of the *query API.
    pub async fn messages(
        &self,
        t: TenantId,
        mut q: MessageQuery,
        recent_only: bool,
    ) -> Result<Vec<StoredMessage>> {
        if recent_only {
            q.since = Some(self.clock.now() - RECENT_WINDOW);
        }
        // The page first: a page with messages proves the session exists, so the session is
        // looked up only to tell an empty page from an unknown session (one query, not two,
        // on the hot path).
        match self.store.list_messages(t, &q).await {
            Ok(page) if !page.is_empty() => Ok(page),
            Ok(empty) => {
                self.session(t, &q.call_id).await?;
                Ok(empty)
            }
            Err(StoreError::NotFound(Entity::Message)) => {
                self.session(t, &q.call_id).await?;
                Err(ConversationError::Invalid(
                    "last_msg_id names no message of this session".into(),
                ))
            }
            Err(other) => Err(ConversationError::Store(other)),
        }
    }

    pub async fn mark_read(
        &self,
        t: TenantId,
        call_id: &CallId,
        msg_ids: Option<&[String]>,
    ) -> Result<u64> {
        self.store
            .mark_read(t, call_id, msg_ids, self.clock.now())
            .await
            .map_err(|e| store_error(e, call_id))
    }

    /// Ends an open session for `reason`, reporting the end (`session.close`,
    /// `session.end`) in the same transaction.
    pub async fn close(
        &self,
        tenant: &Tenant,
        call_id: &CallId,
        reason: EndReason,
    ) -> Result<Session> {
        for _ in 0..MAX_CHANGE_TRIES {
            let session = self.session(tenant.id, call_id).await?;
            if session.state == SessionState::Closed {
                return Err(ConversationError::Rejected(
                    "session is already closed".into(),
                ));
            }
            let change = self
                .end_change(&tenant.company, &session, reason, Vec::new())
                .await?;
            if let Some(closed) = self.apply(tenant.id, call_id, &change).await? {
                return Ok(closed);
            }
        }
        Err(ConversationError::Busy)
    }

    /// Closes every open session idle for longer than `idle_timeout` with reason
    /// `expire`; returns how many it closed.
    pub async fn expire_idle(&self, idle_timeout: Duration, limit: u32) -> Result<usize> {
        let cutoff = self.clock.now() - idle_timeout;
        let idle = self
            .store
            .idle_sessions(cutoff, limit)
            .await
            .map_err(ConversationError::Store)?;
        let mut closed = 0;
        for session in idle {
            let tenant = self
                .store
                .tenant(session.tenant)
                .await
                .map_err(ConversationError::Store)?;
            let change = self
                .end_change(&tenant.company, &session, EndReason::Expire, Vec::new())
                .await?;
            // A session that moved meanwhile is no longer idle: leave it.
            if self
                .apply(tenant.id, &session.call_id, &change)
                .await?
                .is_some()
            {
                closed += 1;
            }
        }
        Ok(closed)
    }

    /// The change that ends `session` for `reason`: `messages` (e.g. a robot's last
    /// replies), then a `conversation.close` system message, and the end callbacks with the
    /// whole transcript. Applies only while the session is as read.
    pub async fn end_change(
        &self,
        company: &str,
        session: &Session,
        reason: EndReason,
        mut messages: Vec<Message>,
    ) -> Result<SessionChange> {
        let now = self.clock.now();
        let (from_seat, to_seat) = super::close_seats(session);
        messages.push(system_message(
            &SystemEventKind::Close,
            &from_seat,
            &to_seat,
            now,
        ));
        let mut transcript: Vec<Message> = self
            .store
            .list_messages(
                session.tenant,
                &MessageQuery {
                    call_id: session.call_id.clone(),
                    after_msg_id: None,
                    since: None,
                    size: u32::MAX,
                    order: SortOrder::OldestFirst,
                },
            )
            .await
            .map_err(ConversationError::Store)?
            .into_iter()
            .map(|m| m.message)
            .collect();
        transcript.extend(messages.iter().cloned());
        let mut ended = session.clone();
        ended.state = SessionState::Closed;
        ended.end_reason = Some(reason);
        ended.ended_at = Some(now);
        let events = session_end_events(company, &ended, &Conclusion::of(session), &transcript);
        Ok(SessionChange {
            expected_version: session.state_version,
            turn_lease: None,
            state: SessionState::Closed,
            end_reason: Some(reason),
            seat_id: session.seat_id.clone(),
            robot_state: None,
            answered_seq: None,
            messages,
            events,
        })
    }

    /// Applies a change; `None` when the session moved on since it was read.
    pub async fn apply(
        &self,
        t: TenantId,
        call_id: &CallId,
        change: &SessionChange,
    ) -> Result<Option<Session>> {
        let applied = self
            .store
            .apply_session_change(t, call_id, change, self.clock.now())
            .await
            .map_err(|e| store_error(e, call_id))?;
        if let Some(session) = &applied {
            self.committed(t, session, !change.events.is_empty());
        }
        Ok(applied)
    }

    pub async fn report(
        &self,
        t: TenantId,
        call_id: &CallId,
        report: &serde_json::Value,
    ) -> Result<Session> {
        self.store
            .save_report(t, call_id, report, self.clock.now())
            .await
            .map_err(|e| store_error(e, call_id))
    }
}

/// One call carries 1 to [`MAX_INBOUND_MESSAGES`] messages.
pub(super) fn check_message_count(n: usize) -> Result<()> {
    if n == 0 {
        return Err(ConversationError::Invalid(
            "messages must hold at least one message".into(),
        ));
    }
    if n > MAX_INBOUND_MESSAGES {
        return Err(ConversationError::Invalid(format!(
            "messages may hold at most {MAX_INBOUND_MESSAGES} messages"
        )));
    }
    Ok(())
}

pub(super) fn store_error(e: StoreError, call_id: &CallId) -> ConversationError {
    match e {
        StoreError::NotFound(Entity::Session) => {
            ConversationError::SessionNotFound(call_id.clone())
        }
        StoreError::Rejected(why) => ConversationError::Rejected(why),
        StoreError::Conflict(Unique::MessageMsgId) => ConversationError::DuplicateMsgId,
        other => ConversationError::Store(other),
    }
}

/// The send API takes text, media, location and interactive messages, each with its body.
pub fn validate_agent_content(content: &Content) -> Result<()> {
    let invalid = |m: &str| Err(ConversationError::Invalid(m.to_owned()));
    match content {
        Content::Text(c) => match c.text.as_deref() {
            None | Some("") => invalid("a text message needs a non-empty `text`"),
            Some(t) if t.chars().count() > MAX_TEXT_CHARS => Err(ConversationError::Invalid(format!(
                "text is {} characters; at most {MAX_TEXT_CHARS} are allowed",
                t.chars().count()
            ))),
            Some(_) => Ok(()),
        },
        Content::Image(c) | Content::Video(c) | Content::Audio(c) | Content::File(c) => {
            let has_url = c.media.as_ref().and_then(Option::as_ref).and_then(|m| m.origin_url.as_deref()).is_some_and(|u| !u.is_empty());
            if has_url { Ok(()) } else { invalid("a media message needs `media.origin_url`") }
        }
        Content::Location(c) => {
            if c.location.as_ref().and_then(Option::as_ref).is_some() { Ok(()) } else { invalid("a location message needs `location`") }
        }
        Content::Interactive(c) => {
            if c.interactive.as_ref().and_then(Option::as_ref).is_some() { Ok(()) } else { invalid("an interactive message needs `interactive`") }
        }
        other => Err(ConversationError::Invalid(format!(
            "type `{}` cannot be sent here; use text, image, video, audio, file, location or interactive",
            other.kind()
        ))),
    }
}
