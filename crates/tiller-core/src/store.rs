//! Storage ports: small traits per aggregate, joined into [`Store`] and used as
//! [`DynStore`]. `tiller-store` implements them for SQLite and PostgreSQL.
//!
//! Methods on tenant-owned data take the [`TenantId`] explicitly, so forgetting the
//! scope is a compile error rather than a data leak. Lookups by credential key are the
//! exception: they are how a request finds its tenant in the first place.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::{
    auth::TokenStore,
    channels::{Channel, ChannelId},
    conversations::{
        CallId, ChatRecord, ChatRecordQuery, Inbound, InboundMode, MessageQuery, NewSession,
        Session, SessionChange, SessionQuery, StatusReport, StatusReportOutcome, StoredMessage,
    },
    jobs::{ClaimedJob, JobKind, NewJob, Pacing, Verdict},
    messages::Message,
    robots::{NewRobot, Robot},
    seats::{NewSeat, Seat, SeatEmail},
    tenant::TenantStore,
    webhooks::{
        AttemptRecord, ClaimedDelivery, Endpoint, EndpointHealth, EndpointPatch, EventQuery,
        EventRecord, EventSummary, NewEndpoint, NewEvent, OutboxStats, Outcome,
    },
    Secret, StoreResult, TenantId,
};

/// Sessions and their messages. Each method is one transaction.
#[async_trait::async_trait]
pub trait ConversationStore: Send + Sync {
    /// Opens the session on first contact (or reopens a closed one) with its robot (the
    /// one named, else the tenant's default), appending `start` (a `conversation.start`
    /// system message) when it does; then appends the user's `messages` in order. A message
    /// whose `msg_id` is already stored for this tenant is not written again: the stored one
    /// is returned in its place (idempotent retries).
    ///
    /// Where the new messages go is core's decision ([`crate::conversations::Opening`],
    /// [`crate::conversations::plan_user_messages`] for `mode`), taken on the session's
    /// facts inside the transaction; the events it plans (built for `company`) are enqueued
    /// with them. `NotFound(Robot)` when the named robot does not exist.
    #[expect(
        clippy::too_many_arguments,
        reason = "one transaction's inputs; a struct of them would be built only to be taken apart"
    )]
    async fn record_inbound(
        &self,
        t: TenantId,
        session: &NewSession,
        messages: &[Message],
        start: &Message,
        company: &str,
        mode: InboundMode,
        now: DateTime<Utc>,
    ) -> StoreResult<Inbound>;

    /// Appends messages the channel sent on its own to a session that is not closed,
    /// enqueueing nothing. A message whose `msg_id` is already stored in this session is
    /// not written again: the stored one is returned in its place (idempotent retries).
    /// `NotFound(Session)` for an unknown session, `Rejected` for a closed one,
    /// `Conflict(MessageMsgId)` for an id used by another session of the tenant.
    async fn record_channel_messages(
        &self,
        t: TenantId,
        call_id: &CallId,
        messages: &[Message],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<StoredMessage>>;

    /// Applies the channel's status report: reads the session and the messages it names
    /// (locked until the transaction ends), asks core for the plan
    /// ([`crate::conversations::plan_status_reports`]) and applies it, each change from the
    /// statuses it replaces only, with the `message.status` callbacks it plans for what
    /// moved (built for `company`). A refused report changes nothing. `NotFound(Session)`
    /// for an unknown session.
    async fn report_statuses(
        &self,
        t: TenantId,
        call_id: &CallId,
        reports: &[StatusReport],
        company: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<StatusReportOutcome>;

    /// Appends one message to a session that is not closed, and enqueues `events` (see
    /// [`WebhookStore::enqueue`]) in the same transaction. `NotFound(Session)` for an
    /// unknown session, `Rejected` for a closed one, `Conflict(MessageMsgId)` for a reused
    /// id.
    async fn append_message(
        &self,
        t: TenantId,
        call_id: &CallId,
        message: &Message,
        events: &[NewEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<StoredMessage>;

    async fn session(&self, t: TenantId, call_id: &CallId) -> StoreResult<Session>;

    /// Most recently started first, `q.size` at most, after the `q.after_call_id` cursor.
    async fn list_sessions(&self, t: TenantId, q: &SessionQuery) -> StoreResult<Vec<Session>>;

    /// One session's messages in `q.order`, after the `q.after_msg_id` cursor.
    /// `NotFound(Message)` when the cursor names no message of that session.
    async fn list_messages(&self, t: TenantId, q: &MessageQuery)
        -> StoreResult<Vec<StoredMessage>>;

    /// Sets `read` on the session's user messages (those named, or all); returns how many
    /// changed. `NotFound(Session)` for an unknown session.
    async fn mark_read(
        &self,
        t: TenantId,
        call_id: &CallId,
        msg_ids: Option<&[String]>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Applies `change` if the session is still at `change.expected_version` (and holds
    /// `change.turn_lease`, when given): `Ok(None)` when it is not, so the caller reads the
    /// session again and decides anew. `NotFound(Session)` for an unknown session.
    async fn apply_session_change(
        &self,
        t: TenantId,
        call_id: &CallId,
        change: &SessionChange,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Session>>;

    /// Open sessions with no activity since `cutoff`, oldest first (for expiry).
    async fn idle_sessions(&self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Session>>;

    /// Stores the integrator's report on a closed session (`Rejected` while it is open);
    /// a later report replaces an earlier one.
    async fn save_report(
        &self,
        t: TenantId,
        call_id: &CallId,
        report: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> StoreResult<Session>;

    /// nxlink chat records: the total number of matching messages and the requested page.
    async fn chat_records(
        &self,
        t: TenantId,
        q: &ChatRecordQuery,
    ) -> StoreResult<(u64, Vec<ChatRecord>)>;
}

/// Robots, and the turn lease that runs one robot turn of a session at a time.
#[async_trait::async_trait]
pub trait RobotStore: Send + Sync {
    /// With `new.is_default`, the tenant's previous default stops being one.
    async fn create_robot(
        &self,
        t: TenantId,
        new: &NewRobot,
        now: DateTime<Utc>,
    ) -> StoreResult<Robot>;
    async fn robot(&self, t: TenantId, robot_id: &str) -> StoreResult<Robot>;
    /// Oldest first.
    async fn robots(&self, t: TenantId) -> StoreResult<Vec<Robot>>;

    /// Leases the session's due turn to `lease` until `lease_until`, unless another lease
    /// is still running (a lease already held by `lease` is renewed). `None` when nothing is
    /// due or the turn is leased elsewhere.
    async fn claim_turn(
        &self,
        t: TenantId,
        call_id: &CallId,
        lease: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Session>>;

    /// Leases up to `limit` due turns of any tenant, the longest waiting first.
    async fn claim_due_turns(
        &self,
        lease: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Session>>;

    /// The session's user messages after `after_seq`, oldest first.
    async fn unanswered_messages(
        &self,
        t: TenantId,
        call_id: &CallId,
        after_seq: i64,
    ) -> StoreResult<Vec<StoredMessage>>;
}

/// Webhook endpoints, the outbox, deliveries and the attempt log.
#[async_trait::async_trait]
pub trait WebhookStore: Send + Sync {
    async fn create_endpoint(
        &self,
        t: TenantId,
        new: &NewEndpoint,
        now: DateTime<Utc>,
    ) -> StoreResult<Endpoint>;
    async fn endpoint(&self, t: TenantId, id: &str) -> StoreResult<Endpoint>;
    /// Oldest first.
    async fn endpoints(&self, t: TenantId) -> StoreResult<Vec<Endpoint>>;
    async fn update_endpoint(
        &self,
        t: TenantId,
        id: &str,
        patch: &EndpointPatch,
        now: DateTime<Utc>,
    ) -> StoreResult<Endpoint>;
    /// Makes `secret` the newest; the older ones stay active until `old_until`.
    async fn rotate_secret(
        &self,
        t: TenantId,
        id: &str,
        secret: &Secret,
        old_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Endpoint>;

    /// Writes the events and, in the same transaction, one pending delivery per endpoint of
    /// the tenant that wants the event's type. A disabled endpoint's deliveries wait until
    /// it is enabled again.
    async fn enqueue(
        &self,
        t: TenantId,
        events: &[NewEvent],
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<EventRecord>>;

    /// Leases up to `limit` deliveries (of any tenant) that are due at `now` and not leased,
    /// to enabled endpoints, oldest first, counting the attempt. A delivery is held back
    /// while an earlier pending delivery with the same ordering key goes to the same
    /// endpoint, so one session's events arrive in order.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedDelivery>>;

    /// Logs the attempt and applies its outcome: the delivery's state or next attempt, the
    /// endpoint's failure run, and (when the delivery ends) the event's message statuses.
    /// Returns `false`, changing nothing but the log, when the delivery has since been
    /// claimed again (the lease expired).
    async fn finish_attempt(
        &self,
        attempt: &AttemptRecord,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Disables every endpoint failing since `cutoff` or earlier, enqueueing an
    /// `endpoint.disabled` event for its tenant; returns the endpoints disabled.
    async fn disable_failing_endpoints(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Endpoint>>;

    /// Newest first.
    async fn list_events(&self, t: TenantId, q: &EventQuery) -> StoreResult<Vec<EventSummary>>;
    /// The event's attempts, oldest first. `NotFound(Event)` for an unknown event.
    async fn attempts(&self, t: TenantId, event_id: &str) -> StoreResult<Vec<AttemptRecord>>;
    /// Sends the event again to its endpoints: every delivery is pending from `now` with
    /// its attempts reset. Returns the deliveries reset; `NotFound(Event)` for an
    /// unknown event.
    async fn replay_event(
        &self,
        t: TenantId,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Replays every dead delivery of events created in `[from, to]`.
    async fn replay_dead(
        &self,
        t: TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
    async fn endpoint_health(&self, t: TenantId) -> StoreResult<Vec<EndpointHealth>>;
    /// Pending deliveries, and how many of them are leased at `now`.
    async fn outbox_stats(&self, now: DateTime<Utc>) -> StoreResult<OutboxStats>;
}

/// The job queue (see [`crate::jobs`]), for kinds whose worker needs nothing but the job.
/// Kinds with details of their own (webhook deliveries) are claimed and finished through
/// their aggregate's port, which uses the same queue in the same transaction.
#[async_trait::async_trait]
pub trait JobStore: Send + Sync {
    /// Writes the jobs, pending, in one transaction.
    async fn enqueue_jobs(&self, jobs: &[NewJob], now: DateTime<Utc>) -> StoreResult<()>;

    /// Leases up to `limit` claimable jobs of `kind` (of any tenant) until `lease_until`,
    /// the earliest due first, counting the attempt. A job is claimable when it is due, not
    /// leased, its lane is neither held nor paced past `now`, and no earlier pending job has
    /// its lane and order key. With `pacing`, at most one job per lane is claimed and the
    /// lane waits [`Pacing::gap`] before its next claim.
    async fn claim_jobs(
        &self,
        kind: JobKind,
        pacing: Option<Pacing>,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>>;

    /// Extends the lease of claim `attempt` of job `id`; `false` when that is no longer the
    /// job's live claim. `NotFound(Job)` for an unknown job.
    async fn heartbeat_job(
        &self,
        id: i64,
        attempt: u32,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Applies the verdict of claim `attempt` of job `id` ([`crate::jobs::plan_finish`]);
    /// `false`, changing nothing, when that is no longer the job's live claim.
    async fn finish_job(
        &self,
        id: i64,
        attempt: u32,
        verdict: Verdict,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Holds a lane of `kind` (none of its jobs is claimed) or releases it.
    async fn hold_lane(&self, kind: JobKind, lane: &str, held: bool) -> StoreResult<()>;
}

/// The seat directory ([`crate::seats`]). Seat ids and e-mails are compared exactly: an
/// e-mail is lower-cased by [`SeatEmail`] before it reaches the store.
#[async_trait::async_trait]
pub trait SeatStore: Send + Sync {
    /// Inserts the seat or, when the tenant has one with its `seat_id`, gives that one the
    /// new name and e-mail (keeping `created_at`). `Conflict(SeatEmail)` when another seat
    /// of the tenant has the e-mail.
    async fn put_seat(&self, t: TenantId, new: &NewSeat, now: DateTime<Utc>) -> StoreResult<Seat>;
    /// The tenant's seats by `seat_id` (byte order, on every backend).
    async fn seats(&self, t: TenantId) -> StoreResult<Vec<Seat>>;
    /// The tenant's seats among `ids`, by `seat_id`; ids it has no seat for are left out.
    async fn seats_by_ids(&self, t: TenantId, ids: &[String]) -> StoreResult<Vec<Seat>>;
    async fn seat_by_email(&self, t: TenantId, email: &SeatEmail) -> StoreResult<Option<Seat>>;
}

/// A shared store serves the port too, so [`crate::seats::Seats`] holds this part of
/// `DynStore` alone (`Arc::new(store.clone())`).
#[async_trait::async_trait]
impl<S: SeatStore + ?Sized> SeatStore for Arc<S> {
    async fn put_seat(&self, t: TenantId, new: &NewSeat, now: DateTime<Utc>) -> StoreResult<Seat> {
        (**self).put_seat(t, new, now).await
    }
    async fn seats(&self, t: TenantId) -> StoreResult<Vec<Seat>> {
        (**self).seats(t).await
    }
    async fn seats_by_ids(&self, t: TenantId, ids: &[String]) -> StoreResult<Vec<Seat>> {
        (**self).seats_by_ids(t, ids).await
    }
    async fn seat_by_email(&self, t: TenantId, email: &SeatEmail) -> StoreResult<Option<Seat>> {
        (**self).seat_by_email(t, email).await
    }
}

/// A tenant's channels ([`crate::channels`]). The store keeps what it is given: the
/// settings are checked by [`crate::channels::check_channel_kind`] before they get here.
#[async_trait::async_trait]
pub trait ChannelStore: Send + Sync {
    /// `Conflict(ChannelPhoneNumberId)` when a channel of any tenant has the WhatsApp
    /// number already.
    async fn create_channel(&self, channel: &Channel) -> StoreResult<()>;
    /// `NotFound(Channel)` for an id the tenant has no channel with.
    async fn channel(&self, t: TenantId, id: &ChannelId) -> StoreResult<Channel>;
    /// Oldest first.
    async fn channels(&self, t: TenantId) -> StoreResult<Vec<Channel>>;
    /// `NotFound(Channel)` for an id the tenant has no channel with.
    async fn remove_channel(&self, t: TenantId, id: &ChannelId) -> StoreResult<()>;
    /// The WhatsApp channel a webhook path names, of whichever tenant: how a webhook finds
    /// its tenant. `NotFound(Channel)` for an unknown id or a custom channel.
    async fn whatsapp_channel_by_id(&self, id: &ChannelId) -> StoreResult<Channel>;
    /// The channel of a Graph API `phone_number_id` (unique in the store).
    /// `NotFound(Channel)` when no channel has it.
    async fn whatsapp_channel_by_number(&self, phone_number_id: &str) -> StoreResult<Channel>;
}

/// What `/readyz` asks of the database.
#[async_trait::async_trait]
pub trait HealthStore: Send + Sync {
    async fn ping(&self) -> StoreResult<()>;
    async fn migration_status(&self) -> StoreResult<MigrationStatus>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Versions embedded in this binary.
    pub expected: Vec<i64>,
    /// Versions the database records as successfully applied.
    pub applied: Vec<i64>,
}

impl MigrationStatus {
    pub fn is_current(&self) -> bool {
        self.expected.iter().all(|v| self.applied.contains(v))
    }
}

pub trait Store:
    TenantStore
    + TokenStore
    + ConversationStore
    + RobotStore
    + SeatStore
    + ChannelStore
    + WebhookStore
    + JobStore
    + HealthStore
{
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
}

pub type DynStore = Arc<dyn Store>;

/// What `/readyz` and the `/metrics` outbox gauges ask of the database: a narrow port, so
/// the ops handlers reach nothing else of the store. A shared store serves it
/// (`Arc::new(store.clone())`).
#[async_trait::async_trait]
pub trait Readiness: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    async fn ping(&self) -> StoreResult<()>;
    async fn migration_status(&self) -> StoreResult<MigrationStatus>;
    /// Pending deliveries, and how many of them are leased at `now`.
    async fn outbox_stats(&self, now: DateTime<Utc>) -> StoreResult<OutboxStats>;
}

#[async_trait::async_trait]
impl<S: Store + ?Sized> Readiness for Arc<S> {
    fn backend(&self) -> &'static str {
        Store::backend(&**self)
    }
    async fn ping(&self) -> StoreResult<()> {
        HealthStore::ping(&**self).await
    }
    async fn migration_status(&self) -> StoreResult<MigrationStatus> {
        HealthStore::migration_status(&**self).await
    }
    async fn outbox_stats(&self, now: DateTime<Utc>) -> StoreResult<OutboxStats> {
        WebhookStore::outbox_stats(&**self, now).await
    }
}
