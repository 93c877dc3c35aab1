//! Message pages on PostgreSQL, read in groups: the pages a node's clients ask for at once
//! are read with one statement per sort order (each page a `LATERAL` walk of the
//! `(tenant_id, call_id, seq)` index, as the one-page query walks it), so N pages cost one
//! or two round trips, one connection and one wake-up instead of N. Reads keep no order,
//! so several groups run at once.
//!
//! A group of one reads on the one-page path (`list_alone`). When a group's statement
//! fails, each of its pages is read alone, so each gets exactly its own answer.

use std::collections::HashMap;

use sqlx::{PgConnection, PgPool};
use tiller_core::{
    conversations::{MessageQuery, SortOrder, StoredMessage},
    Entity, StoreError, StoreResult, TenantId,
};

use super::groups::{self, Groups};
use crate::{
    error::{not_found, store_error},
    rows::{millis_or, MessageRow, MESSAGE_COLUMNS},
};

/// The most pages one statement reads.
const MAX_GROUP: usize = 32;
/// Groups read at once; the writers keep the rest of the pool.
const IN_FLIGHT: usize = 3;

/// One `list_messages` call, owned so the reader can carry it.
pub(crate) struct ListRequest {
    pub tenant: TenantId,
    pub query: MessageQuery,
}

type Queued = groups::Queued<ListRequest, Vec<StoredMessage>>;

/// The queue in front of the node's page readers.
pub(crate) type ListReads = Groups<ListRequest, Vec<StoredMessage>>;

pub(crate) fn start(pool: &PgPool) -> ListReads {
    Groups::start_concurrent("list reader", MAX_GROUP, IN_FLIGHT, pool, read)
}

async fn read(pool: PgPool, mut group: Vec<Queued>) {
    if group.len() == 1 {
        if let Some(q) = group.pop() {
            let r = &q.request;
            let _ = q.reply.send(list_alone(&pool, r.tenant, &r.query).await);
        }
        return;
    }
    let requests: Vec<&ListRequest> = group.iter().map(|q| &q.request).collect();
    match read_group(&pool, &requests).await {
        Ok(pages) => {
            for (q, page) in group.into_iter().zip(pages) {
                let _ = q.reply.send(page);
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, "a group of pages failed; each is read alone");
            for q in group {
                let r = &q.request;
                let _ = q.reply.send(list_alone(&pool, r.tenant, &r.query).await);
            }
        }
    }
}

/// Where each page starts: the seq of its cursor message, or the end in its order.
type Bound = StoreResult<i64>;

/// Every page of the group, in the group's order; a page whose cursor names no message of
/// its session gets `NotFound(Message)`, as alone.
async fn read_group(
    pool: &PgPool,
    requests: &[&ListRequest],
) -> StoreResult<Vec<StoreResult<Vec<StoredMessage>>>> {
    let mut conn = pool.acquire().await.map_err(store_error)?;
    let bounds = cursor_bounds(&mut conn, requests).await?;
    let mut pages: Vec<StoreResult<Vec<StoredMessage>>> = bounds
        .iter()
        .map(|b| match b {
            Ok(_) => Ok(Vec::new()),
            Err(_) => Err(StoreError::NotFound(Entity::Message)),
        })
        .collect();
    for order in [SortOrder::NewestFirst, SortOrder::OldestFirst] {
        let wanted: Vec<(usize, i64)> = requests
            .iter()
            .zip(&bounds)
            .enumerate()
            .filter(|(_, (r, _))| r.query.order == order)
            .filter_map(|(i, (_, b))| b.as_ref().ok().map(|b| (i, *b)))
            .collect();
        for (i, rows) in read_pages(&mut conn, requests, &wanted, order).await? {
            pages[i] = rows.into_iter().map(StoredMessage::try_from).collect();
        }
    }
    Ok(pages)
}

/// Looks every cursor of the group up in one statement.
async fn cursor_bounds(
    conn: &mut PgConnection,
    requests: &[&ListRequest],
) -> StoreResult<Vec<Bound>> {
    let end = |r: &ListRequest| match r.query.order {
        SortOrder::NewestFirst => i64::MAX,
        SortOrder::OldestFirst => i64::MIN,
    };
    let mut wanted = Vec::new();
    let (mut tenants, mut calls, mut ids) = (Vec::new(), Vec::new(), Vec::new());
    for (i, r) in requests.iter().enumerate() {
        if let Some(after) = &r.query.after_msg_id {
            wanted.push(i);
            tenants.push(r.tenant.0);
            calls.push(r.query.call_id.as_str());
            ids.push(after.as_str());
        }
    }
    let mut found: HashMap<i64, i64> = HashMap::new();
    if !wanted.is_empty() {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT k.ord, messages.seq FROM UNNEST($1::int8[], $2::text[], $3::text[]) \
               WITH ORDINALITY AS k(tenant_id, call_id, msg_id, ord) \
             JOIN messages ON messages.tenant_id = k.tenant_id \
               AND messages.call_id = k.call_id AND messages.msg_id = k.msg_id",
        )
        .bind(&tenants)
        .bind(&calls)
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
        found.extend(rows);
    }
    let mut cursors = wanted.iter().zip(1_i64..).peekable();
    Ok(requests
        .iter()
        .enumerate()
        .map(|(i, r)| match cursors.peek() {
            Some((at, ord)) if **at == i => {
                let ord = *ord;
                cursors.next();
                found
                    .get(&ord)
                    .copied()
                    .ok_or(StoreError::NotFound(Entity::Message))
            }
            _ => Ok(end(r)),
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct PageRow {
    key_ord: i64,
    #[sqlx(flatten)]
    row: MessageRow,
}

/// The pages `wanted` (request index, bound) in one order, in one statement.
async fn read_pages(
    conn: &mut PgConnection,
    requests: &[&ListRequest],
    wanted: &[(usize, i64)],
    order: SortOrder,
) -> StoreResult<Vec<(usize, Vec<MessageRow>)>> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let (walk, sort) = match order {
        SortOrder::NewestFirst => ("messages.seq < k.bound ORDER BY messages.seq DESC", "DESC"),
        SortOrder::OldestFirst => ("messages.seq > k.bound ORDER BY messages.seq ASC", "ASC"),
    };
    let (mut tenants, mut calls, mut since, mut bounds, mut sizes) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, bound) in wanted {
        let q = &requests[*i].query;
        tenants.push(requests[*i].tenant.0);
        calls.push(q.call_id.as_str());
        since.push(millis_or(q.since, i64::MIN));
        bounds.push(*bound);
        sizes.push(i64::from(q.size));
    }
    let sql = format!(
        "SELECT k.ord AS key_ord, {MESSAGE_COLUMNS} \
         FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::int8[], $5::int8[]) \
           WITH ORDINALITY AS k(tenant_id, call_id, since, bound, size, ord) \
         CROSS JOIN LATERAL (SELECT * FROM messages WHERE messages.tenant_id = k.tenant_id \
           AND messages.call_id = k.call_id AND messages.created_at >= k.since \
           AND {walk} LIMIT k.size) AS messages \
         ORDER BY k.ord, messages.seq {sort}"
    );
    let rows: Vec<PageRow> = sqlx::query_as(&sql)
        .bind(&tenants)
        .bind(&calls)
        .bind(&since)
        .bind(&bounds)
        .bind(&sizes)
        .fetch_all(&mut *conn)
        .await
        .map_err(store_error)?;
    let mut pages: Vec<(usize, Vec<MessageRow>)> =
        wanted.iter().map(|(i, _)| (*i, Vec::new())).collect();
    for r in rows {
        let slot = usize::try_from(r.key_ord - 1)
            .ok()
            .and_then(|k| pages.get_mut(k))
            .ok_or(StoreError::NotFound(Entity::Message))?;
        slot.1.push(r.row);
    }
    Ok(pages)
}

/// One page in its own statements: the cursor's seq, then the page.
pub(super) async fn list_alone(
    pool: &PgPool,
    t: TenantId,
    q: &MessageQuery,
) -> StoreResult<Vec<StoredMessage>> {
    let cursor: Option<i64> = match &q.after_msg_id {
        None => None,
        Some(msg_id) => Some(
            sqlx::query_scalar(
                "SELECT seq FROM messages WHERE tenant_id = $1 AND call_id = $2 AND msg_id = $3",
            )
            .bind(t.0)
            .bind(q.call_id.as_str())
            .bind(msg_id)
            .fetch_one(pool)
            .await
            .map_err(not_found(Entity::Message))?,
        ),
    };
    // Both shapes walk the (tenant_id, call_id, seq) index from the cursor.
    let (order, bound) = match q.order {
        SortOrder::NewestFirst => ("seq < $4 ORDER BY seq DESC", cursor.unwrap_or(i64::MAX)),
        SortOrder::OldestFirst => ("seq > $4 ORDER BY seq ASC", cursor.unwrap_or(i64::MIN)),
    };
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND call_id = $2 \
         AND created_at >= $3 AND {order} LIMIT $5"
    );
    let rows: Vec<MessageRow> = sqlx::query_as(&sql)
        .bind(t.0)
        .bind(q.call_id.as_str())
        .bind(millis_or(q.since, i64::MIN))
        .bind(bound)
        .bind(i64::from(q.size))
        .fetch_all(pool)
        .await
        .map_err(store_error)?;
    rows.into_iter().map(StoredMessage::try_from).collect()
}
