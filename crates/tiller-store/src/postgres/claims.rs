//! Robot-turn claims on PostgreSQL, grouped: the turns a burst of inbound messages made due
//! are claimed together, in one `UPDATE` and one commit, instead of one autocommitted
//! `UPDATE` each. Each claim keeps its own lease, time and answer; the lease condition is
//! the one-claim path's (`robots.rs`), stated per row.
//!
//! A second claim for a session already in the group (two messages' turns, spawned at
//! once) runs alone after the group committed, so it sees the first one's lease; when the
//! group fails before its commit, every claim runs alone.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tiller_core::{
    clock::to_millis,
    conversations::{CallId, Session},
    StoreResult, TenantId,
};

use super::{
    groups::{self, GroupError, Groups},
    robots::claim_turn_alone,
};
use crate::{
    error::store_error,
    rows::{SessionRow, SESSION_COLUMNS},
};

/// The most claims one statement carries.
const MAX_GROUP: usize = 64;

/// One `claim_turn` call, owned so the writer can carry it.
pub(crate) struct ClaimRequest {
    pub tenant: TenantId,
    pub call_id: CallId,
    pub lease: String,
    pub now: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
}

type Queued = groups::Queued<ClaimRequest, Option<Session>>;

/// The queue in front of the node's turn-claim writer.
pub(crate) type ClaimGroups = Groups<ClaimRequest, Option<Session>>;

pub(crate) fn start(pool: &PgPool) -> ClaimGroups {
    Groups::start("turn-claim writer", MAX_GROUP, pool, write)
}

async fn write(pool: PgPool, group: Vec<Queued>) {
    let mut sessions = HashSet::new();
    let (grouped, mut alone): (Vec<Queued>, Vec<Queued>) = group
        .into_iter()
        .partition(|q| sessions.insert((q.request.tenant.0, q.request.call_id.clone())));
    let requests: Vec<&ClaimRequest> = grouped.iter().map(|q| &q.request).collect();
    match commit_group(&pool, &requests).await {
        Ok(mut claimed) => {
            for q in grouped {
                let key = (q.request.tenant.0, q.request.call_id.as_str().to_owned());
                let _ = q.reply.send(Ok(claimed.remove(&key)));
            }
        }
        Err(GroupError::Rolled(e)) => {
            tracing::debug!(error = %e, "a turn-claim group rolled back; its claims run alone");
            alone.splice(0..0, grouped);
        }
        Err(GroupError::Commit(e)) => {
            // Whether the leases took is unknown: they expire, and the worker claims again.
            tracing::warn!(error = %e, "a turn-claim group's commit failed");
            GroupError::answer_all(&e, grouped);
        }
    }
    // After the group, so a session's later claim sees the lease its first one took.
    for q in alone {
        let r = &q.request;
        let answer = claim_turn_alone(&pool, r.tenant, &r.call_id, &r.lease, r.now, r.lease_until);
        let _ = q.reply.send(answer.await);
    }
}

/// Claims every due, unleased session of the group, locking them in key order as the
/// other groups do; returns the sessions claimed.
async fn commit_group(
    pool: &PgPool,
    requests: &[&ClaimRequest],
) -> Result<std::collections::HashMap<(i64, String), Session>, GroupError> {
    let rolled = |e| GroupError::Rolled(store_error(e));
    let mut tenants = Vec::new();
    let mut calls = Vec::new();
    let mut leases = Vec::new();
    let mut now = Vec::new();
    let mut until = Vec::new();
    for r in requests {
        tenants.push(r.tenant.0);
        calls.push(r.call_id.as_str());
        leases.push(r.lease.as_str());
        now.push(to_millis(r.now));
        until.push(to_millis(r.lease_until));
    }
    let claimable = "sessions.turn_due IS NOT NULL AND sessions.turn_due <= k.now \
         AND (sessions.turn_lease_until IS NULL OR sessions.turn_lease_until <= k.now \
           OR sessions.turn_lease = k.lease)";
    let sql = format!(
        "WITH k AS (SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[], \
           $5::int8[]) AS k(tenant_id, call_id, lease, now, until)), \
         locked AS MATERIALIZED (SELECT sessions.tenant_id, sessions.call_id FROM sessions \
           JOIN k ON sessions.tenant_id = k.tenant_id AND sessions.call_id = k.call_id \
           WHERE {claimable} \
           ORDER BY sessions.tenant_id, sessions.call_id FOR UPDATE OF sessions) \
         UPDATE sessions SET turn_lease = k.lease, turn_lease_until = k.until \
         FROM k JOIN locked ON locked.tenant_id = k.tenant_id AND locked.call_id = k.call_id \
         WHERE sessions.tenant_id = k.tenant_id AND sessions.call_id = k.call_id \
           AND {claimable} \
         RETURNING {SESSION_COLUMNS}"
    );
    let mut tx = groups::begin(pool).await?;
    let rows: Vec<SessionRow> = sqlx::query_as(&sql)
        .bind(&tenants)
        .bind(&calls)
        .bind(&leases)
        .bind(&now)
        .bind(&until)
        .fetch_all(&mut *tx)
        .await
        .map_err(rolled)?;
    let claimed = rows
        .into_iter()
        .map(|row| {
            let key = (row.tenant_id, row.call_id.clone());
            Ok((key, Session::try_from(row)?))
        })
        .collect::<StoreResult<_>>()
        .map_err(GroupError::Rolled)?;
    groups::commit(tx).await?;
    Ok(claimed)
}
