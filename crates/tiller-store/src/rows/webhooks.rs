//! Rows of the webhook tables, shared by both dialects, and the assembly of the domain
//! values that span several rows: an endpoint with its secrets, an event with its
//! deliveries, a claimed delivery with both.

use std::collections::HashMap;

use tiller_core::{
    clock::{from_millis, to_millis},
    jobs::{ClaimedJob, JobSnapshot},
    webhooks::{
        AttemptRecord, ClaimedDelivery, DeliverySnapshot, DeliveryState, Endpoint, EndpointHealth,
        EventRecord, EventSummary, MessageStatusUpdate, NewEvent, SecretLife,
    },
    Secret, StoreError, StoreResult, TenantId,
};

use super::{count, job_state, JobStateRow, SqliteRow};
use crate::error::{corrupt, json_error};

pub(crate) const ENDPOINT_COLUMNS: &str = "id, tenant_id, url, event_types, enabled, \
     encryption_key, failing_since, disabled_reason, created_at, updated_at";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EndpointRow {
    pub id: String,
    pub tenant_id: i64,
    pub url: String,
    pub event_types: Option<String>,
    pub enabled: bool,
    pub encryption_key: Option<String>,
    pub failing_since: Option<i64>,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl SqliteRow for EndpointRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            tenant_id: r.get("tenant_id")?,
            url: r.get("url")?,
            event_types: r.get("event_types")?,
            enabled: r.get("enabled")?,
            encryption_key: r.get("encryption_key")?,
            failing_since: r.get("failing_since")?,
            disabled_reason: r.get("disabled_reason")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
        })
    }
}

impl EndpointRow {
    /// The endpoint, signing with `secrets` (newest first).
    pub fn into_endpoint(self, secrets: Vec<Secret>) -> StoreResult<Endpoint> {
        let event_types = self
            .event_types
            .map(|raw| serde_json::from_str(&raw).map_err(json_error))
            .transpose()?;
        Ok(Endpoint {
            id: self.id,
            tenant: TenantId(self.tenant_id),
            url: self.url,
            event_types,
            secrets,
            enabled: self.enabled,
            encryption_key: self.encryption_key.map(Secret::new),
            failing_since: self.failing_since.map(from_millis),
            disabled_reason: self.disabled_reason,
            created_at: from_millis(self.created_at),
            updated_at: from_millis(self.updated_at),
        })
    }
}

/// The `event_types` column: a JSON array, NULL for every type.
pub(crate) fn event_types_column(types: Option<&[String]>) -> StoreResult<Option<String>> {
    types
        .map(|t| serde_json::to_string(t).map_err(json_error))
        .transpose()
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SecretRow {
    pub endpoint_id: String,
    pub secret: String,
}

impl SqliteRow for SecretRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            endpoint_id: r.get("endpoint_id")?,
            secret: r.get("secret")?,
        })
    }
}

/// Endpoints with their secrets, which come newest first.
pub(crate) fn with_secrets(
    rows: Vec<EndpointRow>,
    secrets: Vec<SecretRow>,
) -> StoreResult<Vec<Endpoint>> {
    let mut by_endpoint: HashMap<String, Vec<Secret>> = HashMap::new();
    for s in secrets {
        by_endpoint
            .entry(s.endpoint_id)
            .or_default()
            .push(Secret::new(s.secret));
    }
    rows.into_iter()
        .map(|r| {
            let secrets = by_endpoint.remove(&r.id).unwrap_or_default();
            r.into_endpoint(secrets)
        })
        .collect()
}

pub(crate) const EVENT_COLUMNS: &str =
    "seq, event_id, tenant_id, event_type, ordering_key, payload, on_outcome, created_at";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct EventRow {
    pub seq: i64,
    pub event_id: String,
    pub tenant_id: i64,
    pub event_type: String,
    pub ordering_key: Option<String>,
    pub payload: String,
    pub on_outcome: Option<String>,
    pub created_at: i64,
}

impl SqliteRow for EventRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: r.get("seq")?,
            event_id: r.get("event_id")?,
            tenant_id: r.get("tenant_id")?,
            event_type: r.get("event_type")?,
            ordering_key: r.get("ordering_key")?,
            payload: r.get("payload")?,
            on_outcome: r.get("on_outcome")?,
            created_at: r.get("created_at")?,
        })
    }
}

impl TryFrom<EventRow> for EventRecord {
    type Error = StoreError;

    fn try_from(r: EventRow) -> StoreResult<Self> {
        Ok(EventRecord {
            event_id: r.event_id,
            tenant: TenantId(r.tenant_id),
            event_type: r.event_type,
            ordering_key: r.ordering_key,
            payload: serde_json::from_str(&r.payload).map_err(json_error)?,
            on_outcome: on_outcome(r.on_outcome.as_deref())?,
            created_at: from_millis(r.created_at),
        })
    }
}

/// The JSON columns of an event insert.
#[derive(Debug)]
pub(crate) struct NewEventRow {
    pub payload: String,
    pub on_outcome: Option<String>,
}

impl NewEventRow {
    pub fn of(e: &NewEvent) -> StoreResult<Self> {
        Ok(Self {
            payload: e.payload.to_string(),
            on_outcome: e
                .on_outcome
                .as_ref()
                .map(|o| serde_json::to_string(o).map_err(json_error))
                .transpose()?,
        })
    }
}

fn on_outcome(raw: Option<&str>) -> StoreResult<Option<MessageStatusUpdate>> {
    raw.map(|r| serde_json::from_str(r).map_err(json_error))
        .transpose()
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct DeliveryStateRow {
    pub event_seq: i64,
    pub endpoint_id: String,
    pub state: String,
    pub attempts: i64,
}

impl SqliteRow for DeliveryStateRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            event_seq: r.get("event_seq")?,
            endpoint_id: r.get("endpoint_id")?,
            state: r.get("state")?,
            attempts: r.get("attempts")?,
        })
    }
}

/// Events, in the order given, each with its deliveries (which come in delivery order).
pub(crate) fn summaries(
    events: Vec<EventRow>,
    deliveries: Vec<DeliveryStateRow>,
) -> StoreResult<Vec<EventSummary>> {
    let mut by_event: HashMap<i64, Vec<(String, DeliveryState, u32)>> = HashMap::new();
    for d in deliveries {
        let state = DeliveryState::from(job_state(&d.state)?);
        by_event
            .entry(d.event_seq)
            .or_default()
            .push((d.endpoint_id, state, count(d.attempts)?));
    }
    events
        .into_iter()
        .map(|e| {
            let deliveries = by_event.remove(&e.seq).unwrap_or_default();
            Ok(EventSummary {
                event: e.try_into()?,
                deliveries,
            })
        })
        .collect()
}

/// Claimed delivery jobs (in claim order), each with its event and its endpoint.
pub(crate) fn claimed(
    jobs: Vec<ClaimedJob>,
    events: Vec<EventRow>,
    endpoints: Vec<Endpoint>,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let events = events
        .into_iter()
        .map(|e| Ok((e.seq, EventRecord::try_from(e)?)))
        .collect::<StoreResult<HashMap<_, _>>>()?;
    let endpoints: HashMap<_, _> = endpoints.into_iter().map(|e| (e.id.clone(), e)).collect();
    jobs.into_iter()
        .map(|job| {
            let missing = |what: &str| corrupt(format!("delivery {} without its {what}", job.id));
            Ok(ClaimedDelivery {
                delivery_id: job.id,
                event: events
                    .get(&job.subject)
                    .cloned()
                    .ok_or_else(|| missing("event"))?,
                endpoint: endpoints
                    .get(&job.lane)
                    .cloned()
                    .ok_or_else(|| missing("endpoint"))?,
                attempt: job.attempt,
                lease_until: job.lease_until,
            })
        })
        .collect()
}

/// What an outcome is decided on: the delivery, its event's message hook and its
/// endpoint's run of failures.
pub(crate) const FINISH_COLUMNS: &str = "j.tenant_id, j.state, j.attempts, j.due_at, \
     j.lease_until, j.lane AS endpoint_id, ev.event_id, ev.on_outcome, e.failing_since";

/// The tables [`FINISH_COLUMNS`] reads, for a `WHERE j.id = …`.
pub(crate) const FINISH_FROM: &str = "jobs j JOIN webhook_events ev ON ev.seq = j.subject \
     JOIN webhook_endpoints e ON e.id = j.lane";

/// A delivery's state and attempts, as `list_events` shows them per event.
pub(crate) const DELIVERY_STATE_COLUMNS: &str =
    "subject AS event_seq, lane AS endpoint_id, state, attempts";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct FinishRow {
    pub tenant_id: i64,
    #[sqlx(flatten)]
    pub job: JobStateRow,
    pub endpoint_id: String,
    pub event_id: String,
    pub on_outcome: Option<String>,
    pub failing_since: Option<i64>,
}

impl SqliteRow for FinishRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            tenant_id: r.get("tenant_id")?,
            job: JobStateRow::read(r)?,
            endpoint_id: r.get("endpoint_id")?,
            event_id: r.get("event_id")?,
            on_outcome: r.get("on_outcome")?,
            failing_since: r.get("failing_since")?,
        })
    }
}

impl TryFrom<FinishRow> for DeliverySnapshot {
    type Error = StoreError;

    fn try_from(r: FinishRow) -> StoreResult<Self> {
        Ok(DeliverySnapshot {
            tenant: TenantId(r.tenant_id),
            event_id: r.event_id,
            endpoint_id: r.endpoint_id,
            job: JobSnapshot::try_from(&r.job)?,
            on_outcome: on_outcome(r.on_outcome.as_deref())?,
            failing_since: r.failing_since.map(from_millis),
        })
    }
}

/// A secret's key and expiry, for a rotation.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SecretLifeRow {
    pub seq: i64,
    pub expires_at: Option<i64>,
}

impl SqliteRow for SecretLifeRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: r.get("seq")?,
            expires_at: r.get("expires_at")?,
        })
    }
}

impl From<SecretLifeRow> for SecretLife {
    fn from(r: SecretLifeRow) -> Self {
        SecretLife {
            id: r.seq,
            expires_at: r.expires_at.map(from_millis),
        }
    }
}

pub(crate) const ATTEMPT_COLUMNS: &str = "job_id, event_id, endpoint_id, attempt, \
     started_at, status_code, latency_ms, response_excerpt, error, outcome";

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct AttemptRow {
    pub job_id: i64,
    pub event_id: String,
    pub endpoint_id: String,
    pub attempt: i64,
    pub started_at: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub response_excerpt: String,
    pub error: Option<String>,
    pub outcome: String,
}

impl SqliteRow for AttemptRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            job_id: r.get("job_id")?,
            event_id: r.get("event_id")?,
            endpoint_id: r.get("endpoint_id")?,
            attempt: r.get("attempt")?,
            started_at: r.get("started_at")?,
            status_code: r.get("status_code")?,
            latency_ms: r.get("latency_ms")?,
            response_excerpt: r.get("response_excerpt")?,
            error: r.get("error")?,
            outcome: r.get("outcome")?,
        })
    }
}

impl TryFrom<AttemptRow> for AttemptRecord {
    type Error = StoreError;

    fn try_from(r: AttemptRow) -> StoreResult<Self> {
        let status_code = r
            .status_code
            .map(|c| u16::try_from(c).map_err(|_| corrupt(format!("status code {c}"))))
            .transpose()?;
        Ok(AttemptRecord {
            delivery_id: r.job_id,
            event_id: r.event_id,
            endpoint_id: r.endpoint_id,
            attempt: count(r.attempt)?,
            started_at: from_millis(r.started_at),
            status_code,
            latency_ms: u64::try_from(r.latency_ms).unwrap_or_default(),
            response_excerpt: r.response_excerpt,
            error: r.error,
            outcome: r.outcome,
        })
    }
}

/// The integer columns of an attempt insert.
#[derive(Debug)]
pub(crate) struct NewAttemptRow {
    pub attempt: i64,
    pub started_at: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
}

impl NewAttemptRow {
    pub fn of(a: &AttemptRecord) -> Self {
        Self {
            attempt: i64::from(a.attempt),
            started_at: to_millis(a.started_at),
            status_code: a.status_code.map(i64::from),
            latency_ms: i64::try_from(a.latency_ms).unwrap_or(i64::MAX),
        }
    }
}

/// One endpoint's delivery counts and latest attempt.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct HealthRow {
    pub endpoint_id: String,
    pub pending: i64,
    pub delivered: i64,
    pub dead: i64,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
}

impl SqliteRow for HealthRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            endpoint_id: r.get("endpoint_id")?,
            pending: r.get("pending")?,
            delivered: r.get("delivered")?,
            dead: r.get("dead")?,
            last_attempt_at: r.get("last_attempt_at")?,
            last_status_code: r.get("last_status_code")?,
        })
    }
}

/// The endpoints, in the order given, with their counts.
pub(crate) fn health(endpoints: Vec<Endpoint>, rows: Vec<HealthRow>) -> Vec<EndpointHealth> {
    let mut by_endpoint: HashMap<_, _> = rows
        .into_iter()
        .map(|r| (r.endpoint_id.clone(), r))
        .collect();
    endpoints
        .into_iter()
        .map(|endpoint| {
            let row = by_endpoint.remove(&endpoint.id);
            let n = |f: fn(&HealthRow) -> i64| {
                row.as_ref()
                    .map_or(0, |r| u64::try_from(f(r)).unwrap_or_default())
            };
            EndpointHealth {
                pending: n(|r| r.pending),
                delivered: n(|r| r.delivered),
                dead: n(|r| r.dead),
                last_attempt_at: row
                    .as_ref()
                    .and_then(|r| r.last_attempt_at)
                    .map(from_millis),
                last_status_code: row
                    .as_ref()
                    .and_then(|r| r.last_status_code)
                    .and_then(|c| u16::try_from(c).ok()),
                endpoint,
            }
        })
        .collect()
}
