//! Robot turns' session changes on PostgreSQL, grouped: the changes the turns made under
//! their leases at once share one transaction and one statement per step (lock and update
//! the sessions, insert the robots' messages, enqueue the events, check which sessions
//! still have user messages waiting, set their next turn), so N turns cost a handful of
//! statements and one commit instead of 6 N statements and N commits. The rules stay in
//! core: each change is the engine's plan, and each session's next turn is
//! `SessionFacts::turn_due` over its own updated facts, as on the one-change path
//! (`conversations.rs`).
//!
//! What the group does not carry runs alone, after the group committed, on the one-change
//! path: a second change for a session already in the group (so one session's changes keep
//! their order), and a change whose session moved under it (its version or lease no longer
//! match; alone it gets its `None`, or `NotFound`). When any step fails (a message id
//! already taken, a deadlock with another node), the group rolls back and every change
//! runs alone, so each gets exactly its own answer.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tiller_core::{
    clock::to_millis,
    conversations::{CallId, EndReason, Session, SessionChange, SessionFacts},
    StoreError, StoreResult, TenantId, Unique,
};

use super::{
    conversations::apply_change_alone,
    group_rows::MessageColumns,
    groups::{self, GroupError, Groups},
    webhooks::{enqueue_batches, EventBatch},
};
use crate::{
    error::store_error,
    rows::{FactsRow, SessionRow, FACTS_COLUMNS, SESSION_COLUMNS},
};

/// The most changes one transaction carries.
const MAX_GROUP: usize = 64;

/// One `apply_session_change` call made under a turn lease, owned so the writer can carry it.
pub(crate) struct ChangeRequest {
    pub tenant: TenantId,
    pub call_id: CallId,
    pub change: SessionChange,
    pub now: DateTime<Utc>,
}

type Queued = groups::Queued<ChangeRequest, Option<Session>>;

/// The queue in front of the node's session-change writer.
pub(crate) type ChangeGroups = Groups<ChangeRequest, Option<Session>>;

pub(crate) fn start(pool: &PgPool) -> ChangeGroups {
    Groups::start(
        "session-change writer",
        MAX_GROUP,
        pool,
        |pool, group| async move {
            let alone = run_group(&pool, group).await;
            // The next group waits, so a session's changes keep their order across groups.
            groups::run_alone(&pool, alone, key_of, |pool, r: ChangeRequest| async move {
                apply_change_alone(&pool, r.tenant, &r.call_id, &r.change, r.now).await
            })
            .await;
        },
    )
}

type Key = (i64, String);

fn key_of(r: &ChangeRequest) -> Key {
    (r.tenant.0, r.call_id.as_str().to_owned())
}

/// Commits what the group carries and answers it; returns the changes left to run alone,
/// in their order.
async fn run_group(pool: &PgPool, group: Vec<Queued>) -> Vec<Queued> {
    let mut sessions = HashSet::new();
    let (grouped, alone): (Vec<Queued>, Vec<Queued>) = group
        .into_iter()
        .partition(|q| sessions.insert(key_of(&q.request)));
    let requests: Vec<&ChangeRequest> = grouped.iter().map(|q| &q.request).collect();
    let outcomes = match commit_group(pool, &requests).await {
        Ok(outcomes) => outcomes,
        Err(GroupError::Rolled(e)) => {
            tracing::debug!(error = %e, "a session-change group rolled back; its changes run alone");
            grouped.iter().map(|_| None).collect()
        }
        Err(GroupError::Commit(e)) => {
            // Whether it took is unknown: each turn hears the error, and its lease lets the
            // turn run again once it expires.
            tracing::warn!(error = %e, "a session-change group's commit failed");
            GroupError::answer_all(&e, grouped);
            return alone;
        }
    };
    let mut left = Vec::new();
    for (q, outcome) in grouped.into_iter().zip(outcomes) {
        match outcome {
            Some(session) => {
                let _ = q.reply.send(Ok(Some(session)));
            }
            None => left.push(q),
        }
    }
    // A change the group left runs before a later one for its session.
    left.extend(alone);
    left
}

/// One transaction for the group: each change's session as it now is, or `None` for a
/// change it leaves to run alone.
async fn commit_group(
    pool: &PgPool,
    requests: &[&ChangeRequest],
) -> Result<Vec<Option<Session>>, GroupError> {
    if requests.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = groups::begin(pool).await?;
    let outcomes = write_group(&mut tx, requests)
        .await
        .map_err(GroupError::Rolled)?;
    groups::commit(tx).await?;
    Ok(outcomes)
}

/// The group's writes, in its transaction.
async fn write_group(
    tx: &mut PgConnection,
    requests: &[&ChangeRequest],
) -> StoreResult<Vec<Option<Session>>> {
    let facts = update_sessions(tx, requests).await?;
    let carried: Vec<&ChangeRequest> = requests
        .iter()
        .filter(|r| facts.contains_key(&key_of(r)))
        .copied()
        .collect();
    let mut cols = MessageColumns::default();
    for r in &carried {
        for m in &r.change.messages {
            cols.push(r.tenant, &r.call_id, r.now, m)?;
        }
    }
    // Robot messages carry fresh ids: one taken (or twice in the group) fails the group,
    // and alone the change hears its conflict.
    if cols.insert(tx).await?.len() != cols.len() {
        return Err(StoreError::Conflict(Unique::MessageMsgId));
    }
    let batches: Vec<EventBatch<'_>> = carried
        .iter()
        .map(|r| EventBatch {
            tenant: r.tenant,
            events: &r.change.events,
            now: r.now,
        })
        .collect();
    enqueue_batches(tx, &batches).await?;
    let waiting = user_messages_wait(tx, &carried, &facts).await?;
    let dues: Vec<Option<i64>> = carried
        .iter()
        .map(|r| {
            let key = key_of(r);
            let wait = waiting.contains(&key);
            facts[&key].turn_due(wait, r.now).map(to_millis)
        })
        .collect();
    let mut sessions = set_turn_due(tx, &carried, &dues).await?;
    Ok(requests
        .iter()
        .map(|r| sessions.remove(&key_of(r)))
        .collect())
}

/// Locks the group's sessions in key order (as the inbound group does, so groups never
/// wait on each other in a cycle) and applies each change whose session still has the
/// version and lease it expects; returns the updated facts of those.
async fn update_sessions(
    tx: &mut PgConnection,
    requests: &[&ChangeRequest],
) -> StoreResult<HashMap<Key, SessionFacts>> {
    #[derive(sqlx::FromRow)]
    struct Updated {
        key_tenant: i64,
        key_call: String,
        #[sqlx(flatten)]
        facts: FactsRow,
    }
    let mut tenants = Vec::new();
    let mut calls = Vec::new();
    let mut expected = Vec::new();
    let mut leases = Vec::new();
    let mut states = Vec::new();
    let mut end_reasons = Vec::new();
    let mut ended = Vec::new();
    let mut seats = Vec::new();
    let mut robot_states = Vec::new();
    let mut answered = Vec::new();
    let mut at = Vec::new();
    for r in requests {
        let c = &r.change;
        tenants.push(r.tenant.0);
        calls.push(r.call_id.as_str());
        expected.push(c.expected_version);
        leases.push(c.turn_lease.as_deref());
        states.push(c.state.as_str());
        end_reasons.push(c.end_reason.map(EndReason::as_str));
        ended.push(c.ended_at(r.now).map(to_millis));
        seats.push(c.seat_id.as_deref());
        robot_states.push(c.robot_state.as_ref().map(ToString::to_string));
        answered.push(c.answered_seq);
        at.push(to_millis(r.now));
    }
    let sql = format!(
        "WITH k AS (SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::text[], \
           $5::text[], $6::text[], $7::int8[], $8::text[], $9::text[], $10::int8[], $11::int8[]) \
           AS k(tenant_id, call_id, expected, lease, state, end_reason, ended_at, seat_id, \
           robot_state, answered, at)), \
         locked AS MATERIALIZED (SELECT sessions.tenant_id, sessions.call_id FROM sessions \
           JOIN k ON sessions.tenant_id = k.tenant_id AND sessions.call_id = k.call_id \
           ORDER BY sessions.tenant_id, sessions.call_id FOR UPDATE OF sessions) \
         UPDATE sessions SET state = k.state, end_reason = k.end_reason, \
           ended_at = k.ended_at, seat_id = k.seat_id, \
           robot_state = COALESCE(k.robot_state, sessions.robot_state), \
           answered_seq = COALESCE(k.answered, sessions.answered_seq), updated_at = k.at, \
           state_version = sessions.state_version + 1, turn_lease = NULL, \
           turn_lease_until = NULL \
         FROM k JOIN locked ON locked.tenant_id = k.tenant_id AND locked.call_id = k.call_id \
         WHERE sessions.tenant_id = k.tenant_id AND sessions.call_id = k.call_id \
           AND sessions.state_version = k.expected AND sessions.turn_lease = k.lease \
         RETURNING sessions.tenant_id AS key_tenant, sessions.call_id AS key_call, \
           {FACTS_COLUMNS}"
    );
    let rows: Vec<Updated> = sqlx::query_as(&sql)
        .bind(&tenants)
        .bind(&calls)
        .bind(&expected)
        .bind(&leases)
        .bind(&states)
        .bind(&end_reasons)
        .bind(&ended)
        .bind(&seats)
        .bind(&robot_states)
        .bind(&answered)
        .bind(&at)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    rows.into_iter()
        .map(|row| Ok(((row.key_tenant, row.key_call), row.facts.try_into()?)))
        .collect()
}

/// The sessions among `carried` that still have user messages after their answered one.
async fn user_messages_wait(
    tx: &mut PgConnection,
    carried: &[&ChangeRequest],
    facts: &HashMap<Key, SessionFacts>,
) -> StoreResult<HashSet<Key>> {
    if carried.is_empty() {
        return Ok(HashSet::new());
    }
    let (tenants, calls): (Vec<i64>, Vec<String>) = carried.iter().map(|r| key_of(r)).unzip();
    let answered: Vec<i64> = carried
        .iter()
        .map(|r| facts[&key_of(r)].answered_seq)
        .collect();
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT k.tenant_id, k.call_id \
         FROM UNNEST($1::int8[], $2::text[], $3::int8[]) AS k(tenant_id, call_id, answered) \
         WHERE EXISTS (SELECT 1 FROM messages WHERE messages.tenant_id = k.tenant_id \
           AND messages.call_id = k.call_id AND messages.seq > k.answered \
           AND messages.sender_type = 'user')",
    )
    .bind(&tenants)
    .bind(&calls)
    .bind(&answered)
    .fetch_all(&mut *tx)
    .await
    .map_err(store_error)?;
    Ok(rows.into_iter().collect())
}

/// Sets each carried session's next turn; returns the sessions as they now are.
async fn set_turn_due(
    tx: &mut PgConnection,
    carried: &[&ChangeRequest],
    dues: &[Option<i64>],
) -> StoreResult<HashMap<Key, Session>> {
    if carried.is_empty() {
        return Ok(HashMap::new());
    }
    let (tenants, calls): (Vec<i64>, Vec<String>) = carried.iter().map(|r| key_of(r)).unzip();
    let sql = format!(
        "UPDATE sessions SET turn_due = k.due \
         FROM UNNEST($1::int8[], $2::text[], $3::int8[]) AS k(tenant_id, call_id, due) \
         WHERE sessions.tenant_id = k.tenant_id AND sessions.call_id = k.call_id \
         RETURNING {SESSION_COLUMNS}"
    );
    let rows: Vec<SessionRow> = sqlx::query_as(&sql)
        .bind(&tenants)
        .bind(&calls)
        .bind(dues)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    rows.into_iter()
        .map(|row| {
            let key = (row.tenant_id, row.call_id.clone());
            Ok((key, Session::try_from(row)?))
        })
        .collect()
}
