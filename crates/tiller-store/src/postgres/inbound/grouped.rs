//! Inbound messages on PostgreSQL, grouped: concurrent `record_inbound` calls share one
//! transaction and one statement per step (lock the sessions, create the missing ones,
//! insert every message, apply every plan, enqueue the events, commit), so a burst of N
//! messages costs PostgreSQL a handful of statements and one commit instead of 6 N. The
//! rules stay in core: each request's plan is `plan_user_messages` over its session's
//! locked facts, as on the one-request path.
//!
//! What the group does not carry runs alone, after the group committed, on the
//! one-request path (`inbound.rs`): a session that reopens, a first contact another
//! transaction won, a second request for a session already in the group (so requests for
//! one session keep their order), a request naming its robot. When any step of the group
//! fails (a message id another session holds, a deadlock with another node), the group
//! rolls back and every request runs alone, so each gets exactly its own outcome.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tiller_core::{
    clock::to_millis,
    conversations::{
        plan_user_messages, Inbound, InboundMode, NewSession, Opening, Session, SessionFacts,
        StoredMessage, UserMessagesPlan,
    },
    messages::Message,
    StoreError, StoreResult, TenantId, Unique,
};

use super::{
    super::{
        group_rows::{read_stored, MessageColumns},
        groups::{self, GroupError, Groups},
        webhooks::{enqueue_batches, EventBatch},
    },
    session_robot,
};
use crate::{
    error::{json_error, store_error},
    rows::{retried_in, FactsRow, SessionRow, FACTS_COLUMNS, SESSION_COLUMNS},
};

/// The most requests one transaction carries.
const MAX_GROUP: usize = 64;

/// One `record_inbound` call, owned so the writer can carry it.
pub(crate) struct InboundRequest {
    pub tenant: TenantId,
    pub session: NewSession,
    pub messages: Vec<Message>,
    pub start: Message,
    pub company: String,
    pub mode: InboundMode,
    pub now: DateTime<Utc>,
}

type Queued = groups::Queued<InboundRequest, Inbound>;

/// The queue in front of the node's inbound writer. One writer per node: groups grow with
/// the load while a commit is under way, and one writer measured faster than two here
/// (BENCHMARKS.md, session 8).
pub(crate) type InboundGroups = Groups<InboundRequest, Inbound>;

pub(crate) fn start(pool: &PgPool) -> InboundGroups {
    Groups::start(
        "inbound writer",
        MAX_GROUP,
        pool,
        |pool, group| async move {
            let alone = run_group(&pool, group).await;
            // The next group waits, so a session's requests keep their order across groups.
            groups::run_alone(&pool, alone, key_of, |pool, r: InboundRequest| async move {
                let (t, s, now) = (r.tenant, &r.session, r.now);
                let (messages, start, company) = (&r.messages, &r.start, &r.company);
                super::record_inbound_alone(&pool, t, s, messages, start, company, r.mode, now)
                    .await
            })
            .await;
        },
    )
}

/// Commits what the group carries and answers it; returns the requests left to run alone,
/// in their order.
async fn run_group(pool: &PgPool, group: Vec<Queued>) -> Vec<Queued> {
    let (grouped, alone) = partition(group);
    let requests: Vec<&InboundRequest> = grouped.iter().map(|q| &q.request).collect();
    let outcomes = match commit_group(pool, &requests).await {
        Ok(outcomes) => outcomes,
        Err(GroupError::Rolled(e)) => {
            tracing::debug!(error = %e, "an inbound group rolled back; its requests run alone");
            grouped.iter().map(|_| None).collect()
        }
        Err(GroupError::Commit(e)) => {
            tracing::warn!(error = %e, "an inbound group's commit failed");
            GroupError::answer_all(&e, grouped);
            return alone;
        }
    };
    // A request the group left runs before a later one for its session.
    let mut left = Vec::new();
    for (q, outcome) in grouped.into_iter().zip(outcomes) {
        match outcome {
            Some(inbound) => {
                let _ = q.reply.send(Ok(inbound));
            }
            None => left.push(q),
        }
    }
    left.extend(alone);
    left
}

/// The requests the group carries, and those it leaves to run alone: every request after
/// the first for its session, or after one that runs alone (so a session's requests keep
/// their order), one naming its robot, and one with a message id another request of the
/// group (or the same request) already has, which would fail the whole group.
fn partition(group: Vec<Queued>) -> (Vec<Queued>, Vec<Queued>) {
    let mut sessions = HashSet::new();
    let mut ids = HashSet::new();
    group.into_iter().partition(|q| {
        let r = &q.request;
        let first = sessions.insert(key_of(r));
        let fresh = r
            .messages
            .iter()
            .all(|m| ids.insert((r.tenant.0, m.msg_id.as_str().to_owned())));
        first && fresh && r.session.robot_id.is_none()
    })
}

/// Where a grouped request's session stands once the group has locked or created it.
struct Standing {
    facts: SessionFacts,
    opening: Opening,
}

/// One transaction for the group: each request's outcome, or `None` for one it leaves to
/// run alone.
async fn commit_group(
    pool: &PgPool,
    requests: &[&InboundRequest],
) -> Result<Vec<Option<Inbound>>, GroupError> {
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
    requests: &[&InboundRequest],
) -> StoreResult<Vec<Option<Inbound>>> {
    let mut standing = lock_sessions(tx, requests).await?;
    let missing: Vec<&InboundRequest> = requests
        .iter()
        .filter(|r| !standing.contains_key(&key_of(r)))
        .copied()
        .collect();
    for (key, has_robot) in create_sessions(tx, &missing).await? {
        let facts = SessionFacts::opened(has_robot, 0);
        let opening = Opening::of(None);
        standing.insert(key, Standing { facts, opening });
    }
    // A session closed (it reopens) or created meanwhile elsewhere: alone.
    let carried: Vec<bool> = requests
        .iter()
        .map(|r| {
            standing
                .get(&key_of(r))
                .is_some_and(|s| s.opening != Opening::Reopen)
        })
        .collect();
    let mut stored = insert_messages(tx, requests, &carried, &standing).await?;
    let mut updates = Vec::new();
    for (i, r) in requests.iter().enumerate() {
        if !carried[i] {
            continue;
        }
        let s = &standing[&key_of(r)];
        let newest = stored[i]
            .iter()
            .filter(|(_, new)| *new)
            .map(|(m, _)| m.seq)
            .next_back();
        updates.push((i, plan_user_messages(&s.facts, newest, r.mode, r.now)));
    }
    let sessions = apply_plans(tx, requests, &updates).await?;
    let mut outcomes: Vec<Option<Inbound>> = (0..requests.len()).map(|_| None).collect();
    // Each request's events at its own time, all in one statement.
    let mut events: Vec<(TenantId, DateTime<Utc>, Vec<_>)> = Vec::new();
    for (i, plan) in &updates {
        let r = requests[*i];
        let session = sessions
            .get(&key_of(r))
            .ok_or(StoreError::NotFound(tiller_core::Entity::Session))?
            .clone();
        let rows = std::mem::take(&mut stored[*i]);
        let new: Vec<Message> = rows
            .iter()
            .filter(|(_, new)| *new)
            .map(|(m, _)| m.message.clone())
            .collect();
        let planned = plan.events(&r.company, &session, &new);
        if !planned.is_empty() {
            events.push((r.tenant, r.now, planned));
        }
        outcomes[*i] = Some(Inbound {
            opened: standing[&key_of(r)].opening.opens(),
            inserted: new.len(),
            messages: rows.into_iter().map(|(m, _)| m).collect(),
            session,
        });
    }
    let batches: Vec<EventBatch<'_>> = events
        .iter()
        .map(|(tenant, now, evs)| EventBatch {
            tenant: *tenant,
            events: evs,
            now: *now,
        })
        .collect();
    enqueue_batches(tx, &batches).await?;
    Ok(outcomes)
}

type Key = (i64, String);

fn key_of(r: &InboundRequest) -> Key {
    (r.tenant.0, r.session.call_id.as_str().to_owned())
}

/// Locks every existing session of the group, in key order (so two groups, on this node
/// or another, never wait on each other in a cycle), and reads its facts.
async fn lock_sessions(
    tx: &mut PgConnection,
    requests: &[&InboundRequest],
) -> StoreResult<HashMap<Key, Standing>> {
    #[derive(sqlx::FromRow)]
    struct Locked {
        key_tenant: i64,
        key_call: String,
        #[sqlx(flatten)]
        facts: FactsRow,
    }
    let (tenants, calls): (Vec<i64>, Vec<String>) = requests.iter().map(|r| key_of(r)).unzip();
    let sql = format!(
        "SELECT sessions.tenant_id AS key_tenant, sessions.call_id AS key_call, {FACTS_COLUMNS} \
         FROM sessions JOIN UNNEST($1::int8[], $2::text[]) AS k(tenant_id, call_id) \
           ON sessions.tenant_id = k.tenant_id AND sessions.call_id = k.call_id \
         ORDER BY sessions.tenant_id, sessions.call_id FOR UPDATE OF sessions"
    );
    let rows: Vec<Locked> = sqlx::query_as(&sql)
        .bind(&tenants)
        .bind(&calls)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    rows.into_iter()
        .map(|row| {
            let facts = SessionFacts::try_from(row.facts)?;
            let opening = Opening::of(Some(facts.state));
            Ok(((row.key_tenant, row.key_call), Standing { facts, opening }))
        })
        .collect()
}

/// Creates the sessions of first contacts, with the tenant's default robot, in key order as
/// the locks are taken; returns those created, each with whether it has a robot. One another transaction created first is
/// not returned (its request runs alone, and finds it).
async fn create_sessions(
    tx: &mut PgConnection,
    missing: &[&InboundRequest],
) -> StoreResult<Vec<(Key, bool)>> {
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let mut cols: [Vec<String>; 6] = Default::default();
    let mut tenants = Vec::new();
    let mut at = Vec::new();
    for r in missing {
        let s = &r.session;
        tenants.push(r.tenant.0);
        at.push(to_millis(r.now));
        for (col, v) in cols.iter_mut().zip([
            s.call_id.as_str(),
            &s.channel,
            &s.channel_id,
            &s.user.id,
            &s.user.name,
        ]) {
            col.push(v.to_owned());
        }
        cols[5].push(serde_json::to_string(&s.variables).map_err(json_error)?);
    }
    let [calls, channels, channel_ids, user_ids, user_names, variables] = cols;
    let sql = format!(
        "INSERT INTO sessions (tenant_id, call_id, channel, channel_id, user_id, user_name, \
         state, started_at, updated_at, robot_id, variables) \
         SELECT k.tenant_id, k.call_id, k.channel, k.channel_id, k.user_id, k.user_name, $9, \
           k.at, k.at, {}, k.variables \
         FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
           $7::int8[], $8::text[]) \
           AS k(tenant_id, call_id, channel, channel_id, user_id, user_name, at, variables) \
         ORDER BY k.tenant_id, k.call_id COLLATE \"C\" \
         ON CONFLICT (tenant_id, call_id) DO NOTHING \
         RETURNING tenant_id, call_id, robot_id IS NOT NULL",
        session_robot("k.tenant_id", "NULL::bigint")
    );
    let rows: Vec<(i64, String, bool)> = sqlx::query_as(&sql)
        .bind(&tenants)
        .bind(&calls)
        .bind(&channels)
        .bind(&channel_ids)
        .bind(&user_ids)
        .bind(&user_names)
        .bind(&at)
        .bind(&variables)
        .bind(Opening::STATE.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    Ok(rows.into_iter().map(|(t, c, r)| ((t, c), r)).collect())
}

/// Per request: its user messages as stored, each with whether this group inserted it
/// (`false`: a retry, stored before). Empty for a request the group does not carry.
type StoredRows = Vec<(StoredMessage, bool)>;

/// Inserts every carried request's messages (an opening's `conversation.start` first) in
/// one statement, in order, so `seq` follows the requests; reads back the retries.
async fn insert_messages(
    tx: &mut PgConnection,
    requests: &[&InboundRequest],
    carried: &[bool],
    standing: &HashMap<Key, Standing>,
) -> StoreResult<Vec<StoredRows>> {
    // Each row's request, and whether it is that request's start message.
    let mut slots: Vec<(usize, bool)> = Vec::new();
    let mut cols = MessageColumns::default();
    for (i, r) in requests.iter().enumerate() {
        if !carried[i] {
            continue;
        }
        if standing[&key_of(r)].opening.opens() {
            cols.push(r.tenant, &r.session.call_id, r.now, &r.start)?;
            slots.push((i, true));
        }
        for m in &r.messages {
            cols.push(r.tenant, &r.session.call_id, r.now, m)?;
            slots.push((i, false));
        }
    }
    let mut inserted = cols.insert(tx).await?;
    let keys = cols.keys();
    let retried: Vec<&(i64, String)> = keys.iter().filter(|k| !inserted.contains_key(*k)).collect();
    let mut earlier = read_stored(tx, &retried).await?;
    let mut out: Vec<StoredRows> = (0..requests.len()).map(|_| Vec::new()).collect();
    for ((i, start), key) in slots.into_iter().zip(keys) {
        let (row, new) = match inserted.remove(&key) {
            Some(row) => (row, true),
            // A start message's id is fresh: one taken fails the group. So does a message
            // id twice in one group; alone, the second finds the first.
            None if start => return Err(StoreError::Conflict(Unique::MessageMsgId)),
            None => (
                earlier
                    .remove(&key)
                    .ok_or(StoreError::Conflict(Unique::MessageMsgId))?,
                false,
            ),
        };
        if !start {
            let row = retried_in(row, &requests[i].session.call_id)?;
            out[i].push((row.try_into()?, new));
        }
    }
    Ok(out)
}

/// Writes every plan in one statement; returns the sessions as they now are.
async fn apply_plans(
    tx: &mut PgConnection,
    requests: &[&InboundRequest],
    plans: &[(usize, UserMessagesPlan)],
) -> StoreResult<HashMap<Key, Session>> {
    if plans.is_empty() {
        return Ok(HashMap::new());
    }
    let mut tenants = Vec::new();
    let mut calls = Vec::new();
    let mut at = Vec::new();
    let mut due = Vec::new();
    let mut answered = Vec::new();
    for (i, plan) in plans {
        let r = requests[*i];
        tenants.push(r.tenant.0);
        calls.push(r.session.call_id.as_str().to_owned());
        at.push(to_millis(r.now));
        due.push(plan.turn_due.map(to_millis));
        answered.push(plan.answered_seq);
    }
    let sql = format!(
        "UPDATE sessions SET updated_at = k.at, turn_due = k.due, answered_seq = k.answered \
         FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::int8[]) \
           AS k(tenant_id, call_id, at, due, answered) \
         WHERE sessions.tenant_id = k.tenant_id AND sessions.call_id = k.call_id \
         RETURNING {SESSION_COLUMNS}"
    );
    let rows: Vec<SessionRow> = sqlx::query_as(&sql)
        .bind(&tenants)
        .bind(&calls)
        .bind(&at)
        .bind(&due)
        .bind(&answered)
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
