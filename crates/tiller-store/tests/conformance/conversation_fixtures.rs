//! Fixtures of the conversation stories: one tenant's scope over the store, and builders
//! of sessions and messages.

use std::fmt::Debug;

use chrono::{DateTime, Utc};
use serde_json::json;
use tiller_core::{
    conversations::{
        system_message, CallId, ChatRecordQuery, ChatUser, EndReason, Inbound, InboundMode,
        MessageQuery, NewSession, Session, SessionChange, SessionQuery, SessionState, SortOrder,
        StoredMessage,
    },
    messages::{Content, Message, SystemEventKind},
    store::DynStore,
    tenant::NewTenant,
    webhooks::NewEvent,
    Clock, Entity, StoreError, StoreResult, TenantId, Unique,
};
use tiller_testkit::ManualClock;

/// The user-send-message mode, which most stories use.
pub const ANSWER: InboundMode = InboundMode::Answer;

/// One tenant's view of the store, at the time of the story's clock.
#[derive(Clone)]
pub struct Scope {
    pub store: DynStore,
    pub id: TenantId,
    pub clock: ManualClock,
}

impl Scope {
    pub async fn new(store: &DynStore, name: &str, clock: &ManualClock) -> Self {
        let (new, _) = NewTenant::generate(name).unwrap();
        let id = store.insert_tenant(&new, clock.now()).await.unwrap().id;
        Self {
            store: store.clone(),
            id,
            clock: clock.clone(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// User messages `msg_ids` to a WhatsApp session `call_id`.
    pub async fn inbound(&self, call_id: &str, msg_ids: &[&str]) -> Inbound {
        self.inbound_to(&whatsapp(call_id), msg_ids).await
    }

    pub async fn inbound_to(&self, new: &NewSession, msg_ids: &[&str]) -> Inbound {
        let messages: Vec<_> = msg_ids.iter().map(|id| user(id, self.now())).collect();
        self.inbound_messages(new, &messages).await
    }

    pub async fn inbound_messages(&self, new: &NewSession, messages: &[Message]) -> Inbound {
        self.inbound_as(new, messages, ANSWER).await
    }

    pub async fn inbound_as(
        &self,
        new: &NewSession,
        messages: &[Message],
        mode: InboundMode,
    ) -> Inbound {
        let start = system_message(&SystemEventKind::Start, "", "", self.now());
        self.store
            .record_inbound(self.id, new, messages, &start, "acme", mode, self.now())
            .await
            .unwrap()
    }

    pub async fn append(&self, call_id: &str, m: &Message) -> StoreResult<StoredMessage> {
        self.append_with(call_id, m, &[]).await
    }

    /// Appends `m` and enqueues `events` in the same transaction.
    pub async fn append_with(
        &self,
        call_id: &str,
        m: &Message,
        events: &[NewEvent],
    ) -> StoreResult<StoredMessage> {
        self.store
            .append_message(self.id, &call(call_id), m, events, self.now())
            .await
    }

    /// Closes an open session through a compare-and-set change, as the service does.
    pub async fn close(&self, call_id: &str, reason: EndReason) -> StoreResult<Session> {
        let session = self.store.session(self.id, &call(call_id)).await?;
        if session.state == SessionState::Closed {
            return Err(StoreError::Rejected("session is already closed".into()));
        }
        let change = SessionChange {
            expected_version: session.state_version,
            turn_lease: None,
            state: SessionState::Closed,
            end_reason: Some(reason),
            seat_id: session.seat_id,
            robot_state: None,
            answered_seq: None,
            messages: vec![system_message(&SystemEventKind::Close, "", "", self.now())],
            events: Vec::new(),
        };
        let applied = self
            .store
            .apply_session_change(self.id, &call(call_id), &change, self.now())
            .await?;
        Ok(applied.expect("nothing else changes the session meanwhile"))
    }

    pub async fn report(&self, call_id: &str, report: &serde_json::Value) -> StoreResult<Session> {
        self.store
            .save_report(self.id, &call(call_id), report, self.now())
            .await
    }

    pub async fn session(&self, call_id: &str) -> Session {
        self.store.session(self.id, &call(call_id)).await.unwrap()
    }

    /// All of a session's messages, oldest first.
    pub async fn messages(&self, call_id: &str) -> Vec<StoredMessage> {
        let q = oldest_first(call_id);
        self.store.list_messages(self.id, &q).await.unwrap()
    }

    pub async fn message_ids(&self, q: &MessageQuery) -> Vec<String> {
        let found = self.store.list_messages(self.id, q).await.unwrap();
        found.into_iter().map(|m| m.message.msg_id).collect()
    }

    /// A session's messages, oldest first, as `start`, `close`, or the sender type.
    pub async fn kinds(&self, call_id: &str) -> Vec<&'static str> {
        let messages = self.messages(call_id).await;
        messages.iter().map(kind).collect()
    }

    pub async fn sessions(&self, q: SessionQuery) -> Vec<String> {
        let found = self.store.list_sessions(self.id, &q).await.unwrap();
        found.into_iter().map(|s| s.call_id.to_string()).collect()
    }

    /// The total and the page's msg_ids; every record carries its own session.
    pub async fn records(&self, q: ChatRecordQuery) -> (u64, Vec<String>) {
        let (total, records) = self.store.chat_records(self.id, &q).await.unwrap();
        for r in &records {
            assert_eq!(r.session.call_id, r.message.call_id);
            assert_eq!(r.session.tenant, self.id);
        }
        let ids = records.into_iter().map(|r| r.message.message.msg_id);
        (total, ids.collect())
    }
}

pub fn call(id: &str) -> CallId {
    CallId::parse(id).unwrap()
}

pub fn session(id: &str, channel: &str, channel_id: &str, user: &str) -> NewSession {
    NewSession {
        call_id: call(id),
        channel: channel.into(),
        channel_id: channel_id.into(),
        user: ChatUser {
            id: user.into(),
            name: format!("{user} name"),
        },
        robot_id: None,
        variables: serde_json::Map::new(),
    }
}

pub fn whatsapp(id: &str) -> NewSession {
    session(id, "WhatsApp", "waba-1", "u-1")
}

/// A text message; user messages arrive `delivery`, others `sent`.
pub fn message(msg_id: &str, sender: &str, now: DateTime<Utc>) -> Message {
    serde_json::from_value(json!({
        "msg_id": msg_id,
        "timestamp": now.timestamp(),
        "sender_type": sender,
        "status": if sender == "user" { "delivery" } else { "sent" },
        "content": { "type": "text", "text": format!("text of {msg_id}") },
    }))
    .unwrap()
}

pub fn user(msg_id: &str, now: DateTime<Utc>) -> Message {
    message(msg_id, "user", now)
}

/// A whole session's messages, oldest first.
pub fn oldest_first(call_id: &str) -> MessageQuery {
    MessageQuery {
        call_id: call(call_id),
        after_msg_id: None,
        since: None,
        size: 1_000,
        order: SortOrder::OldestFirst,
    }
}

pub fn ids(messages: &[StoredMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.message.msg_id.as_str()).collect()
}

fn kind(m: &StoredMessage) -> &'static str {
    let Content::System(content) = &m.message.content else {
        return m.message.sender_type.as_str();
    };
    match content.system.as_ref().map(|e| &e.kind) {
        Some(SystemEventKind::Start) => "start",
        Some(SystemEventKind::Close) => "close",
        _ => "system",
    }
}

pub fn not_found<T: Debug>(r: &StoreResult<T>, entity: Entity) {
    assert!(
        matches!(r, Err(StoreError::NotFound(e)) if *e == entity),
        "expected NotFound({entity:?}), got {r:?}"
    );
}

pub fn rejected<T: Debug>(r: StoreResult<T>, why: &str) {
    match r {
        Err(StoreError::Rejected(got)) => assert_eq!(got, why),
        other => panic!("expected Rejected({why:?}), got {other:?}"),
    }
}

pub fn conflict<T: Debug>(r: StoreResult<T>) {
    match r {
        Err(StoreError::Conflict(what)) => assert_eq!(what, Unique::MessageMsgId),
        other => panic!("expected a msg_id conflict, got {other:?}"),
    }
}
