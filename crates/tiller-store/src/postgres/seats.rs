//! The seat directory on PostgreSQL. Lists order by `seat_id` in byte order (`COLLATE
//! "C"`), as SQLite does, whatever the database's collation.

use chrono::{DateTime, Utc};
use tiller_core::{
    clock::to_millis,
    seats::{NewSeat, Seat, SeatEmail},
    store::SeatStore,
    StoreResult, TenantId,
};

use super::PgStore;
use crate::{
    error::store_error,
    rows::{SeatRow, SEAT_COLUMNS},
};

#[async_trait::async_trait]
impl SeatStore for PgStore {
    async fn put_seat(&self, t: TenantId, new: &NewSeat, now: DateTime<Utc>) -> StoreResult<Seat> {
        // The e-mail's unique constraint is no conflict target: another seat's e-mail
        // still fails the write, as `Conflict(SeatEmail)`.
        let sql = format!(
            "INSERT INTO seats (tenant_id, seat_id, name, email, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (tenant_id, seat_id) DO UPDATE SET name = excluded.name, \
             email = excluded.email, updated_at = excluded.updated_at \
             RETURNING {SEAT_COLUMNS}"
        );
        let row: SeatRow = sqlx::query_as(&sql)
            .bind(t.0)
            .bind(new.seat_id())
            .bind(new.name())
            .bind(new.email().as_str())
            .bind(to_millis(now))
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.into())
    }

    async fn seats(&self, t: TenantId) -> StoreResult<Vec<Seat>> {
        let sql = format!(
            "SELECT {SEAT_COLUMNS} FROM seats WHERE tenant_id = $1 ORDER BY seat_id COLLATE \"C\""
        );
        let rows: Vec<SeatRow> = sqlx::query_as(&sql)
            .bind(t.0)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(Seat::from).collect())
    }

    async fn seats_by_ids(&self, t: TenantId, ids: &[String]) -> StoreResult<Vec<Seat>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {SEAT_COLUMNS} FROM seats WHERE tenant_id = $1 AND seat_id = ANY($2) \
             ORDER BY seat_id COLLATE \"C\""
        );
        let rows: Vec<SeatRow> = sqlx::query_as(&sql)
            .bind(t.0)
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(rows.into_iter().map(Seat::from).collect())
    }

    async fn seat_by_email(&self, t: TenantId, email: &SeatEmail) -> StoreResult<Option<Seat>> {
        let sql = format!("SELECT {SEAT_COLUMNS} FROM seats WHERE tenant_id = $1 AND email = $2");
        let row: Option<SeatRow> = sqlx::query_as(&sql)
            .bind(t.0)
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.map(Seat::from))
    }
}
