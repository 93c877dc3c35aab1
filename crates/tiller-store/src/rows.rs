//! Row types shared by both dialects: the schemas use the same column types on purpose.

use tiller_core::{clock::from_millis, tenant::Tenant, Secret, TenantId};

/// Reads a row by column name on the SQLite writer thread (rusqlite), as `sqlx::FromRow`
/// does for the pools; the `TryFrom` conversions to domain types then serve both.
pub(crate) trait SqliteRow: Sized {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self>;
}

/// A single column, for scalar queries.
impl SqliteRow for i64 {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        r.get(0)
    }
}

impl SqliteRow for String {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        r.get(0)
    }
}

/// Two text columns.
impl SqliteRow for (String, String) {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((r.get(0)?, r.get(1)?))
    }
}

impl SqliteRow for (i64, i64) {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok((r.get(0)?, r.get(1)?))
    }
}

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct TenantRow {
    pub id: i64,
    pub name: String,
    pub company: String,
    pub app_key: String,
    pub app_secret_hash: String,
    pub sign_key: String,
    pub sign_secret: String,
    pub access_key: String,
    pub access_secret: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

impl SqliteRow for TenantRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get("id")?,
            name: r.get("name")?,
            company: r.get("company")?,
            app_key: r.get("app_key")?,
            app_secret_hash: r.get("app_secret_hash")?,
            sign_key: r.get("sign_key")?,
            sign_secret: r.get("sign_secret")?,
            access_key: r.get("access_key")?,
            access_secret: r.get("access_secret")?,
            created_at: r.get("created_at")?,
            disabled_at: r.get("disabled_at")?,
        })
    }
}

impl From<TenantRow> for Tenant {
    fn from(r: TenantRow) -> Self {
        Tenant {
            id: TenantId(r.id),
            name: r.name,
            company: r.company,
            app_key: r.app_key,
            app_secret_hash: r.app_secret_hash,
            sign_key: r.sign_key,
            sign_secret: Secret::new(r.sign_secret),
            access_key: r.access_key,
            access_secret: Secret::new(r.access_secret),
            created_at: from_millis(r.created_at),
            disabled_at: r.disabled_at.map(from_millis),
        }
    }
}

pub(crate) const TENANT_COLUMNS: &str = "id, name, company, app_key, app_secret_hash, sign_key, \
     sign_secret, access_key, access_secret, created_at, disabled_at";

mod channels;
mod conversations;
mod jobs;
mod robots;
mod seats;
mod webhooks;

pub(crate) use channels::{channels, ChannelRow, CHANNEL_COLUMNS};
pub(crate) use conversations::{
    millis_or, retried_in, session_state, ChangedRow, ChatRecordRow, FactsRow, MessageRow,
    NewMessageRow, ReportedRow, SessionRow, CHANGED_COLUMNS, FACTS_COLUMNS, MESSAGE_COLUMNS,
    SESSION_COLUMNS,
};
pub(crate) use jobs::{
    claimed_jobs, count, job_state, CandidateRow, JobRow, JobStateRow, JOB_COLUMNS,
};
pub(crate) use robots::{robot_key, RobotRow, ROBOT_COLUMNS};
pub(crate) use seats::{SeatRow, SEAT_COLUMNS};
pub(crate) use webhooks::{
    claimed, event_types_column, health, summaries, with_secrets, AttemptRow, DeliveryStateRow,
    EndpointRow, EventRow, FinishRow, HealthRow, NewAttemptRow, NewEventRow, SecretLifeRow,
    SecretRow, ATTEMPT_COLUMNS, DELIVERY_STATE_COLUMNS, ENDPOINT_COLUMNS, EVENT_COLUMNS,
    FINISH_COLUMNS, FINISH_FROM,
};
