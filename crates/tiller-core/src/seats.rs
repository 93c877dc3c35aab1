//! Seats: the tenant's directory of agents. A seat is what agent-side messages and
//! sessions name by `seat_id`; the directory gives it a name and an e-mail, which nxlink
//! chat records show as `agent_name` and `agent_account` (`conversations::record_agent`).
//!
//! The directory is optional: a message or a transfer may name a seat the directory does
//! not hold, and its records then show the seat id in those places.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::{store::SeatStore, SharedClock, StoreError, StoreResult, TenantId};

/// Longest `seat_id`, in characters.
pub const MAX_SEAT_ID_CHARS: usize = 64;
/// Longest seat name, in characters.
pub const MAX_NAME_CHARS: usize = 128;
/// Longest e-mail, in characters (RFC 5321's path limit less the brackets).
pub const MAX_EMAIL_CHARS: usize = 254;

/// A seat of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub seat_id: String,
    pub name: String,
    /// Lower-cased ([`SeatEmail`]).
    pub email: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An e-mail address as the directory keeps and matches it: shaped like one (one `@` with
/// text on both sides, no whitespace or control characters, at most
/// [`MAX_EMAIL_CHARS`]) and lower-cased, so `Sandy@NXCloud.com` and `sandy@nxcloud.com`
/// are one address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SeatEmail(String);

impl SeatEmail {
    pub fn parse(raw: &str) -> Result<Self, SeatRefusal> {
        if raw.is_empty() {
            return Err(SeatRefusal::EmailMissing);
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SeatRefusal::EmailSpaces);
        }
        let email = raw.to_lowercase();
        if email.chars().count() > MAX_EMAIL_CHARS {
            return Err(SeatRefusal::EmailTooLong);
        }
        match email.split_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                if domain.contains('@') {
                    return Err(SeatRefusal::EmailShape);
                }
            }
            _ => return Err(SeatRefusal::EmailShape),
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A seat to save: checked by [`NewSeat::new`], so one cannot exist unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSeat {
    seat_id: String,
    name: String,
    email: SeatEmail,
}

impl NewSeat {
    /// `seat_id`: 1 to [`MAX_SEAT_ID_CHARS`] characters with no whitespace around them and
    /// no control characters (it must equal the `seat_id` messages carry, so it is not
    /// trimmed). `name`: trimmed, then 1 to [`MAX_NAME_CHARS`] characters with no control
    /// characters. `email`: a [`SeatEmail`]. The first refusal, in that order.
    pub fn new(seat_id: &str, name: &str, email: &str) -> Result<Self, SeatRefusal> {
        if seat_id.is_empty() {
            return Err(SeatRefusal::SeatIdMissing);
        }
        if seat_id.chars().count() > MAX_SEAT_ID_CHARS {
            return Err(SeatRefusal::SeatIdTooLong);
        }
        if seat_id.trim() != seat_id {
            return Err(SeatRefusal::SeatIdSpaces);
        }
        if seat_id.chars().any(char::is_control) {
            return Err(SeatRefusal::SeatIdControl);
        }
        let name = name.trim();
        if name.is_empty() {
            return Err(SeatRefusal::NameMissing);
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(SeatRefusal::NameTooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(SeatRefusal::NameControl);
        }
        Ok(Self {
            seat_id: seat_id.to_owned(),
            name: name.to_owned(),
            email: SeatEmail::parse(email)?,
        })
    }

    pub fn seat_id(&self) -> &str {
        &self.seat_id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn email(&self) -> &SeatEmail {
        &self.email
    }
}

/// Why a seat was refused; the text is the API's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SeatRefusal {
    #[error("seat_id is required")]
    SeatIdMissing,
    #[error("seat_id must be at most 64 characters")]
    SeatIdTooLong,
    #[error("seat_id must not start or end with whitespace")]
    SeatIdSpaces,
    #[error("seat_id must not contain control characters")]
    SeatIdControl,
    #[error("name is required")]
    NameMissing,
    #[error("name must be at most 128 characters")]
    NameTooLong,
    #[error("name must not contain control characters")]
    NameControl,
    #[error("email is required")]
    EmailMissing,
    #[error("email must not contain whitespace or control characters")]
    EmailSpaces,
    #[error("email must be at most 254 characters")]
    EmailTooLong,
    #[error("email must be an e-mail address: one @ with text on both sides")]
    EmailShape,
}

#[derive(Debug, thiserror::Error)]
pub enum SeatError {
    #[error(transparent)]
    Invalid(#[from] SeatRefusal),
    /// `Conflict(SeatEmail)` when another seat of the tenant has the e-mail.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The seat directory for the HTTP API: save (insert or update by `seat_id`) and list. It
/// holds the seat port only.
#[derive(Clone)]
pub struct Seats {
    store: Arc<dyn SeatStore>,
    clock: SharedClock,
}

impl Seats {
    pub fn new(store: Arc<dyn SeatStore>, clock: SharedClock) -> Self {
        Self { store, clock }
    }

    /// Stores the seat, or gives the tenant's seat with its `seat_id` this name and
    /// e-mail. `Store(Conflict(SeatEmail))` when another of its seats has the e-mail.
    pub async fn save(&self, t: TenantId, new: &NewSeat) -> Result<Seat, SeatError> {
        Ok(self.store.put_seat(t, new, self.clock.now()).await?)
    }

    /// By `seat_id`.
    pub async fn list(&self, t: TenantId) -> StoreResult<Vec<Seat>> {
        self.store.seats(t).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seat_keeps_its_id_trims_its_name_and_lowercases_its_email() {
        let seat = NewSeat::new("708", "  Sandy Lee ", "Sandy.Lee@NXCloud.com").unwrap();
        assert_eq!(seat.seat_id(), "708");
        assert_eq!(seat.name(), "Sandy Lee");
        assert_eq!(seat.email().as_str(), "sandy.lee@nxcloud.com");
        let longest = NewSeat::new(
            &"s".repeat(MAX_SEAT_ID_CHARS),
            &"名".repeat(MAX_NAME_CHARS),
            &format!("{}@x", "a".repeat(MAX_EMAIL_CHARS - 2)),
        );
        assert!(longest.is_ok(), "{longest:?}");
    }

    #[test]
    fn every_seat_refusal_names_its_field() {
        let ok_email = "a@b.c";
        let cases = [
            (("", "n", ok_email), SeatRefusal::SeatIdMissing),
            (
                (&*"s".repeat(MAX_SEAT_ID_CHARS + 1), "n", ok_email),
                SeatRefusal::SeatIdTooLong,
            ),
            ((" 708", "n", ok_email), SeatRefusal::SeatIdSpaces),
            (("708\t", "n", ok_email), SeatRefusal::SeatIdSpaces),
            (("7\u{7}08", "n", ok_email), SeatRefusal::SeatIdControl),
            (("708", "", ok_email), SeatRefusal::NameMissing),
            (("708", "   ", ok_email), SeatRefusal::NameMissing),
            (
                ("708", &*"n".repeat(MAX_NAME_CHARS + 1), ok_email),
                SeatRefusal::NameTooLong,
            ),
            (("708", "a\nb", ok_email), SeatRefusal::NameControl),
            (("708", "n", ""), SeatRefusal::EmailMissing),
            // The first failing field answers.
            (("", "", ""), SeatRefusal::SeatIdMissing),
            (("708", "", "nope"), SeatRefusal::NameMissing),
        ];
        for ((id, name, email), want) in cases {
            assert_eq!(NewSeat::new(id, name, email), Err(want), "{id:?} {name:?}");
        }
    }

    #[test]
    fn every_email_refusal() {
        let long = format!("{}@x", "a".repeat(MAX_EMAIL_CHARS - 1));
        for (raw, want) in [
            ("", SeatRefusal::EmailMissing),
            ("sandy", SeatRefusal::EmailShape),
            ("@nxcloud.com", SeatRefusal::EmailShape),
            ("sandy@", SeatRefusal::EmailShape),
            ("a@b@c", SeatRefusal::EmailShape),
            ("@", SeatRefusal::EmailShape),
            ("san dy@x.com", SeatRefusal::EmailSpaces),
            (" sandy@x.com", SeatRefusal::EmailSpaces),
            ("sandy@x.com\n", SeatRefusal::EmailSpaces),
            ("sa\u{0}ndy@x.com", SeatRefusal::EmailSpaces),
            (&long, SeatRefusal::EmailTooLong),
        ] {
            assert_eq!(SeatEmail::parse(raw), Err(want), "{raw:?}");
        }
    }

    #[test]
    fn emails_match_whatever_their_case() {
        let a = SeatEmail::parse("Sandy@NXCloud.com").unwrap();
        let b = SeatEmail::parse("sandy@nxcloud.COM").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "sandy@nxcloud.com");
        assert_eq!(
            SeatEmail::parse("ÉLODIE@exemple.fr").unwrap().as_str(),
            "élodie@exemple.fr",
            "beyond ASCII too, the same in every backend"
        );
        // A masked address (nxlink's examples) is still shaped like one.
        assert!(SeatEmail::parse("Sandy****@nxcloud.com").is_ok());
    }
}
