//! The seat directory's wire shapes: the save body, checked into a [`NewSeat`] by core's
//! rules, and a seat as the API returns it.

use serde::{Deserialize, Serialize};
use tiller_core::seats::{NewSeat, Seat};
use utoipa::ToSchema;

use super::wire::iso;
use crate::http::ApiError;

/// A seat to save: a new `seat_id` adds it, a known one gets this name and e-mail.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SaveSeatIn {
    /// The id messages and sessions carry (`seat_id`): 1 to 64 characters, no whitespace
    /// around them.
    #[schema(min_length = 1, max_length = 64)]
    pub seat_id: String,
    /// The agent's name, shown as nxlink's `agent_name`: 1 to 128 characters (trimmed).
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
    /// The agent's e-mail, shown as nxlink's `agent_account`: unique in the tenant,
    /// matched and stored lower-cased.
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
}

/// Every refusal is a 400 naming the field.
impl TryFrom<SaveSeatIn> for NewSeat {
    type Error = ApiError;

    fn try_from(body: SaveSeatIn) -> Result<Self, ApiError> {
        NewSeat::new(&body.seat_id, &body.name, &body.email)
            .map_err(|e| ApiError::bad_request(e.to_string()))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeatOut {
    pub seat_id: String,
    pub name: String,
    /// Lower-cased.
    pub email: String,
    /// UTC RFC 3339 to the second, like every `*_at` (`2026-12-02T10:00:00Z`).
    pub created_at: String,
    pub updated_at: String,
}

impl From<Seat> for SeatOut {
    fn from(s: Seat) -> Self {
        Self {
            seat_id: s.seat_id,
            name: s.name,
            email: s.email,
            created_at: iso(s.created_at),
            updated_at: iso(s.updated_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::http::ErrorKind;

    fn save(body: serde_json::Value) -> Result<NewSeat, ApiError> {
        NewSeat::try_from(serde_json::from_value::<SaveSeatIn>(body).unwrap())
    }

    #[test]
    fn a_save_body_becomes_a_checked_seat() {
        let seat = save(json!({"seat_id": "708", "name": " Sandy ", "email": "Sandy@NX.com"}));
        let seat = seat.unwrap();
        assert_eq!(
            (seat.seat_id(), seat.name(), seat.email().as_str()),
            ("708", "Sandy", "sandy@nx.com")
        );
    }

    #[test]
    fn save_refusals_are_400s_with_cores_message() {
        for (body, message) in [
            (
                json!({"seat_id": "", "name": "n", "email": "a@b"}),
                "seat_id is required",
            ),
            (
                json!({"seat_id": "708", "name": "", "email": "a@b"}),
                "name is required",
            ),
            (
                json!({"seat_id": "708", "name": "n", "email": "sandy"}),
                "email must be an e-mail address: one @ with text on both sides",
            ),
        ] {
            let e = save(body.clone()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BadRequest, "{body}");
            assert_eq!(e.to_string(), message, "{body}");
        }
    }
}
