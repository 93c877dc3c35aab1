//! Inbound user messages on PostgreSQL: the one-request path (a transaction of its own),
//! and the grouped path in front of it (`grouped.rs`), which carries the common case of
//! many concurrent calls in one transaction and hands this path what it does not carry.

mod grouped;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tiller_core::{
    clock::to_millis,
    conversations::{
        plan_user_messages, CallId, Inbound, InboundMode, NewSession, Opening, Session,
        SessionFacts, UserMessagesPlan,
    },
    messages::Message,
    Entity, StoreError, StoreResult, TenantId,
};

pub(super) use grouped::{start, InboundGroups, InboundRequest};

use super::{
    conversations::{insert_message, insert_new_message, message_by_id},
    webhooks::enqueue_events,
};
use crate::{
    error::{not_found, store_error},
    rows::{retried_in, robot_key, FactsRow, SessionRow, FACTS_COLUMNS, SESSION_COLUMNS},
};

/// The stored session's facts, locked until the transaction ends so concurrent writers to
/// one session take turns.
async fn locked_facts(
    conn: &mut PgConnection,
    t: TenantId,
    call_id: &CallId,
) -> StoreResult<Option<SessionFacts>> {
    let sql = format!(
        "SELECT {FACTS_COLUMNS} FROM sessions WHERE tenant_id = $1 AND call_id = $2 FOR UPDATE"
    );
    let row: Option<FactsRow> = sqlx::query_as(&sql)
        .bind(t.0)
        .bind(call_id.as_str())
        .fetch_optional(conn)
        .await
        .map_err(store_error)?;
    row.map(SessionFacts::try_from).transpose()
}

/// The robot a new or reopened session gets, as SQL over the parameters `tenant` and
/// `named` (the robot named, already checked to exist): the one named, else the tenant's
/// default, else none.
pub(super) fn session_robot(tenant: &str, named: &str) -> String {
    format!("COALESCE({named}, (SELECT id FROM robots WHERE tenant_id = {tenant} AND is_default))")
}

/// Opens or reopens the session as core's [`Opening`] decides; returns the decision and
/// the session's facts for the messages that follow. Two first messages racing on one
/// `call_id` both insert with `ON CONFLICT DO NOTHING`; the loser waits for the winner's
/// commit, then finds the session through the locking read.
async fn open_session(
    conn: &mut PgConnection,
    t: TenantId,
    new: &NewSession,
    now: DateTime<Utc>,
) -> StoreResult<(Opening, SessionFacts)> {
    let named = match new.robot_id.as_deref() {
        Some(id) => Some(
            sqlx::query_scalar::<_, i64>("SELECT id FROM robots WHERE tenant_id = $1 AND id = $2")
                .bind(t.0)
                .bind(robot_key(id)?)
                .fetch_optional(&mut *conn)
                .await
                .map_err(store_error)?
                .ok_or(StoreError::NotFound(Entity::Robot))?,
        ),
        None => None,
    };
    let variables = serde_json::to_string(&new.variables).map_err(crate::error::json_error)?;
    // A session gets many messages and one first contact: lock the existing row first (one
    // round trip on the common path), and insert only when there is none.
    let facts = if let Some(facts) = locked_facts(&mut *conn, t, &new.call_id).await? {
        facts
    } else {
        let created: Option<bool> = sqlx::query_scalar(&format!(
            "INSERT INTO sessions (tenant_id, call_id, channel, channel_id, user_id, \
                 user_name, state, started_at, updated_at, robot_id, variables) VALUES ($1, $2, \
                 $3, $4, $5, $6, $10, $7, $7, {}, $9) ON CONFLICT (tenant_id, call_id) DO NOTHING \
                 RETURNING robot_id IS NOT NULL",
            session_robot("$1", "$8::bigint")
        ))
        .bind(t.0)
        .bind(new.call_id.as_str())
        .bind(&new.channel)
        .bind(&new.channel_id)
        .bind(&new.user.id)
        .bind(&new.user.name)
        .bind(to_millis(now))
        .bind(named)
        .bind(&variables)
        .bind(Opening::STATE.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(store_error)?;
        if let Some(has_robot) = created {
            return Ok((Opening::of(None), SessionFacts::opened(has_robot, 0)));
        }
        // Another request created it since the read: lock it now.
        locked_facts(&mut *conn, t, &new.call_id)
            .await?
            .ok_or(StoreError::NotFound(Entity::Session))?
    };
    let opening = Opening::of(Some(facts.state));
    if opening != Opening::Reopen {
        return Ok((opening, facts));
    }
    // Everything before the reopening counts as answered.
    let (has_robot, answered_seq): (bool, i64) = sqlx::query_as(&format!(
        "UPDATE sessions SET state = $6, end_reason = NULL, ended_at = NULL, \
         seat_id = NULL, started_at = $3, updated_at = $3, robot_id = {}, \
         robot_state = NULL, answered_seq = (SELECT COALESCE(MAX(seq), 0) FROM messages \
           WHERE tenant_id = $1 AND call_id = $2), \
         turn_due = NULL, turn_lease = NULL, turn_lease_until = NULL, variables = $5, \
         state_version = state_version + 1 WHERE tenant_id = $1 AND call_id = $2 \
         RETURNING robot_id IS NOT NULL, answered_seq",
        session_robot("$1", "$4::bigint")
    ))
    .bind(t.0)
    .bind(new.call_id.as_str())
    .bind(to_millis(now))
    .bind(named)
    .bind(&variables)
    .bind(Opening::STATE.as_str())
    .fetch_one(conn)
    .await
    .map_err(not_found(Entity::Session))?;
    Ok((opening, SessionFacts::opened(has_robot, answered_seq)))
}

/// Applies core's plan for new user messages; returns the session as it now is.
async fn apply_user_messages_plan(
    conn: &mut PgConnection,
    t: TenantId,
    call_id: &CallId,
    plan: &UserMessagesPlan,
    now: DateTime<Utc>,
) -> StoreResult<Session> {
    let sql = format!(
        "UPDATE sessions SET updated_at = $1, turn_due = $2, answered_seq = $3 \
         WHERE tenant_id = $4 AND call_id = $5 RETURNING {SESSION_COLUMNS}"
    );
    let row: SessionRow = sqlx::query_as(&sql)
        .bind(to_millis(now))
        .bind(plan.turn_due.map(to_millis))
        .bind(plan.answered_seq)
        .bind(t.0)
        .bind(call_id.as_str())
        .fetch_one(conn)
        .await
        .map_err(not_found(Entity::Session))?;
    row.try_into()
}

/// Records one inbound call in a transaction of its own: the path of what an inbound
/// group does not carry (`inbound/grouped.rs`).
#[expect(
    clippy::too_many_arguments,
    reason = "the port's arguments, passed through"
)]
pub(super) async fn record_inbound_alone(
    pool: &PgPool,
    t: TenantId,
    session: &NewSession,
    messages: &[Message],
    start: &Message,
    company: &str,
    mode: InboundMode,
    now: DateTime<Utc>,
) -> StoreResult<Inbound> {
    let call_id = &session.call_id;
    let mut tx = pool.begin().await.map_err(store_error)?;
    let (opening, facts) = open_session(&mut tx, t, session, now).await?;
    if opening.opens() {
        insert_new_message(&mut tx, t, call_id, start, now).await?;
    }
    let mut stored = Vec::with_capacity(messages.len());
    let mut new = Vec::new();
    let mut newest = None;
    for m in messages {
        let row = match insert_message(&mut tx, t, call_id, m, now).await? {
            Some(row) => {
                newest = Some(row.seq);
                new.push(m.clone());
                row
            }
            None => retried_in(message_by_id(&mut tx, t, &m.msg_id).await?, call_id)?,
        };
        stored.push(row.try_into()?);
    }
    let plan = plan_user_messages(&facts, newest, mode, now);
    let session = apply_user_messages_plan(&mut tx, t, call_id, &plan, now).await?;
    enqueue_events(&mut tx, t, &plan.events(company, &session, &new), now).await?;
    tx.commit().await.map_err(store_error)?;
    Ok(Inbound {
        session,
        opened: opening.opens(),
        messages: stored,
        inserted: new.len(),
    })
}
