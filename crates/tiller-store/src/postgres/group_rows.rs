//! The columns and rows of a group's messages statements (inbound groups, session-change
//! groups).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use tiller_core::{
    clock::to_millis, conversations::CallId, messages::Message, StoreResult, TenantId,
};

use crate::{
    error::store_error,
    rows::{MessageRow, NewMessageRow, MESSAGE_COLUMNS},
};

/// The columns of the messages insert, one array each.
#[derive(Default)]
pub(super) struct MessageColumns {
    tenants: Vec<i64>,
    calls: Vec<String>,
    msg_ids: Vec<String>,
    senders: Vec<&'static str>,
    statuses: Vec<Option<&'static str>>,
    seats: Vec<Option<String>>,
    content_types: Vec<String>,
    ts: Vec<i64>,
    at: Vec<i64>,
    bodies: Vec<String>,
}

impl MessageColumns {
    pub(super) fn push(
        &mut self,
        t: TenantId,
        call_id: &CallId,
        now: DateTime<Utc>,
        m: &Message,
    ) -> StoreResult<()> {
        let row = NewMessageRow::of(m)?;
        self.tenants.push(t.0);
        self.calls.push(call_id.as_str().to_owned());
        self.msg_ids.push(row.msg_id.to_owned());
        self.senders.push(row.sender_type);
        self.statuses.push(row.status);
        self.seats.push(row.seat_id.map(str::to_owned));
        self.content_types.push(row.content_type.to_owned());
        self.ts.push(row.ts);
        self.at.push(to_millis(now));
        self.bodies.push(row.body);
        Ok(())
    }

    fn bind<'q, O>(
        &'q self,
        q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
        q.bind(&self.tenants)
            .bind(&self.calls)
            .bind(&self.msg_ids)
            .bind(&self.senders)
            .bind(&self.statuses)
            .bind(&self.seats)
            .bind(&self.content_types)
            .bind(&self.ts)
            .bind(&self.at)
            .bind(&self.bodies)
    }

    /// Inserts every row in the order pushed (so `seq` follows it), skipping ids already
    /// stored; returns the rows inserted, by (tenant, msg_id).
    pub(super) async fn insert(
        &self,
        tx: &mut PgConnection,
    ) -> StoreResult<HashMap<(i64, String), MessageRow>> {
        if self.tenants.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "INSERT INTO messages (tenant_id, call_id, msg_id, sender_type, status, seat_id, \
             content_type, ts, created_at, updated_at, body) \
             SELECT m.tenant_id, m.call_id, m.msg_id, m.sender_type, m.status, m.seat_id, \
               m.content_type, m.ts, m.at, m.at, m.body \
             FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], \
               $6::text[], $7::text[], $8::int8[], $9::int8[], $10::text[]) WITH ORDINALITY \
               AS m(tenant_id, call_id, msg_id, sender_type, status, seat_id, content_type, \
               ts, at, body, ord) \
             ORDER BY m.ord \
             ON CONFLICT (tenant_id, msg_id) DO NOTHING \
             RETURNING messages.tenant_id AS key_tenant, messages.msg_id AS key_msg, \
               {MESSAGE_COLUMNS}"
        );
        let rows: Vec<KeyedMessage> = self
            .bind(sqlx::query_as(&sql))
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        Ok(keyed(rows))
    }

    /// How many rows were pushed.
    pub(super) fn len(&self) -> usize {
        self.tenants.len()
    }

    pub(super) fn keys(&self) -> Vec<(i64, String)> {
        self.tenants
            .iter()
            .copied()
            .zip(self.msg_ids.iter().cloned())
            .collect()
    }
}

#[derive(sqlx::FromRow)]
struct KeyedMessage {
    key_tenant: i64,
    key_msg: String,
    #[sqlx(flatten)]
    row: MessageRow,
}

fn keyed(rows: Vec<KeyedMessage>) -> HashMap<(i64, String), MessageRow> {
    rows.into_iter()
        .map(|k| ((k.key_tenant, k.key_msg), k.row))
        .collect()
}

/// The stored messages of these ids (retries of messages already stored).
pub(super) async fn read_stored(
    tx: &mut PgConnection,
    keys: &[&(i64, String)],
) -> StoreResult<HashMap<(i64, String), MessageRow>> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let (tenants, ids): (Vec<i64>, Vec<String>) = keys.iter().map(|(t, m)| (*t, m.clone())).unzip();
    let sql = format!(
        "SELECT messages.tenant_id AS key_tenant, messages.msg_id AS key_msg, {MESSAGE_COLUMNS} \
         FROM messages JOIN UNNEST($1::int8[], $2::text[]) AS k(tenant_id, msg_id) \
           ON messages.tenant_id = k.tenant_id AND messages.msg_id = k.msg_id"
    );
    let rows: Vec<KeyedMessage> = sqlx::query_as(&sql)
        .bind(&tenants)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(store_error)?;
    Ok(keyed(rows))
}
