//! The seat directory on SQLite: writes on the writer thread, reads on the readers.

use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, types::Value};
use tiller_core::{
    clock::to_millis,
    seats::{NewSeat, Seat, SeatEmail},
    store::SeatStore,
    StoreResult, TenantId,
};

use super::{
    statements::{all, one, optional, placeholders},
    SqliteStore,
};
use crate::rows::{SeatRow, SEAT_COLUMNS};

#[async_trait::async_trait]
impl SeatStore for SqliteStore {
    async fn put_seat(&self, t: TenantId, new: &NewSeat, now: DateTime<Utc>) -> StoreResult<Seat> {
        let new = new.clone();
        self.writer
            .run(move |tx| {
                // The e-mail's unique constraint is no conflict target: another seat's
                // e-mail still fails the write, as `Conflict(SeatEmail)`.
                let sql = format!(
                    "INSERT INTO seats (tenant_id, seat_id, name, email, created_at, \
                     updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) \
                     ON CONFLICT (tenant_id, seat_id) DO UPDATE SET name = excluded.name, \
                     email = excluded.email, updated_at = excluded.updated_at \
                     RETURNING {SEAT_COLUMNS}"
                );
                let row: SeatRow = one(
                    tx,
                    &sql,
                    params![
                        t.0,
                        new.seat_id(),
                        new.name(),
                        new.email().as_str(),
                        to_millis(now)
                    ],
                )?;
                Ok(row.into())
            })
            .await
    }

    async fn seats(&self, t: TenantId) -> StoreResult<Vec<Seat>> {
        let sql = format!("SELECT {SEAT_COLUMNS} FROM seats WHERE tenant_id = ? ORDER BY seat_id");
        let rows: Vec<SeatRow> = self.readers.read(|c| all(c, &sql, params![t.0]))?;
        Ok(rows.into_iter().map(Seat::from).collect())
    }

    async fn seats_by_ids(&self, t: TenantId, ids: &[String]) -> StoreResult<Vec<Seat>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {SEAT_COLUMNS} FROM seats WHERE tenant_id = ? AND seat_id IN ({}) \
             ORDER BY seat_id",
            placeholders(ids.len())
        );
        let values = std::iter::once(Value::from(t.0)).chain(ids.iter().cloned().map(Value::from));
        let rows: Vec<SeatRow> = self
            .readers
            .read(|c| all(c, &sql, params_from_iter(values)))?;
        Ok(rows.into_iter().map(Seat::from).collect())
    }

    async fn seat_by_email(&self, t: TenantId, email: &SeatEmail) -> StoreResult<Option<Seat>> {
        let sql = format!("SELECT {SEAT_COLUMNS} FROM seats WHERE tenant_id = ? AND email = ?");
        let row: Option<SeatRow> = self
            .readers
            .read(|c| optional(c, &sql, params![t.0, email.as_str()]))?;
        Ok(row.map(Seat::from))
    }
}
