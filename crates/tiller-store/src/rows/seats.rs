//! Rows of `seats`, shared by both dialects.

use tiller_core::{clock::from_millis, seats::Seat};

use super::SqliteRow;

#[derive(Debug, sqlx::FromRow)]
pub(crate) struct SeatRow {
    pub seat_id: String,
    pub name: String,
    pub email: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl SqliteRow for SeatRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seat_id: r.get("seat_id")?,
            name: r.get("name")?,
            email: r.get("email")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
        })
    }
}

pub(crate) const SEAT_COLUMNS: &str = "seat_id, name, email, created_at, updated_at";

impl From<SeatRow> for Seat {
    fn from(r: SeatRow) -> Self {
        Seat {
            seat_id: r.seat_id,
            name: r.name,
            email: r.email,
            created_at: from_millis(r.created_at),
            updated_at: from_millis(r.updated_at),
        }
    }
}
