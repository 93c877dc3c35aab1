//! nxlink chat records with their agents, as pure rules: which seat a query's
//! `agent_account` filters by, which seats a page needs from the directory, and the agent
//! fields each record shows. [`super::Conversations::chat_records`] applies them.

use super::{record_seat, ChatRecord, ChatRecordQuery};
use crate::seats::Seat;

/// A chat-records request: the query (its `seat_id` left to [`agent_filter`]) and the
/// `agent_account` it was asked with, if any.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRecordRequest {
    pub query: ChatRecordQuery,
    /// An e-mail of the directory, else taken for a seat id.
    pub agent_account: Option<String>,
}

/// The agent a record shows: `agent_id`, `agent_name`, `agent_account`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordAgent {
    pub id: String,
    pub name: String,
    pub account: String,
}

/// A record with its agent (`None` for robot and system records, and records of no seat).
#[derive(Debug, Clone, PartialEq)]
pub struct ShownRecord {
    pub record: ChatRecord,
    pub agent: Option<RecordAgent>,
}

/// A page of chat records and the number of records matching the query.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRecordPage {
    pub total: u64,
    pub records: Vec<ShownRecord>,
}

/// The seat id an `agent_account` filters by: the seat the directory has with that e-mail
/// (`by_email`), else the value itself, taken for a seat id (so ids keep working).
pub fn agent_filter(account: &str, by_email: Option<&Seat>) -> String {
    by_email.map_or(account, |seat| &seat.seat_id).to_owned()
}

/// The seats the page's records show ([`record_seat`]), each once, in order: what one
/// directory lookup fetches.
pub fn page_seat_ids(records: &[ChatRecord]) -> Vec<String> {
    let mut ids: Vec<String> = records
        .iter()
        .filter_map(|r| record_seat(&r.message.message, &r.session))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The agent of a record of `seat_id`: its name is the seat's (the seat id when the
/// directory has no such seat); its account is the queried `agent_account` when one was
/// given (nxlink echoes it), else the seat's e-mail, else the seat id.
pub fn record_agent(seat_id: &str, seat: Option<&Seat>, queried: Option<&str>) -> RecordAgent {
    RecordAgent {
        id: seat_id.to_owned(),
        name: seat.map_or(seat_id, |s| &s.name).to_owned(),
        account: queried
            .or(seat.map(|s| s.email.as_str()))
            .unwrap_or(seat_id)
            .to_owned(),
    }
}

/// The page's records with their agents, from the seats the directory holds of them.
pub fn show_records(
    records: Vec<ChatRecord>,
    seats: &[Seat],
    queried: Option<&str>,
) -> Vec<ShownRecord> {
    records
        .into_iter()
        .map(|record| {
            let agent = record_seat(&record.message.message, &record.session).map(|id| {
                let seat = seats.iter().find(|s| s.seat_id == id);
                record_agent(&id, seat, queried)
            });
            ShownRecord { record, agent }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use serde_json::json;

    use super::*;
    use crate::{
        conversations::{CallId, ChatUser, Session, SessionState, StoredMessage},
        TenantId,
    };

    fn seat(id: &str, name: &str, email: &str) -> Seat {
        let t = chrono::Utc.timestamp_opt(0, 0).unwrap();
        Seat {
            seat_id: id.into(),
            name: name.into(),
            email: email.into(),
            created_at: t,
            updated_at: t,
        }
    }

    fn record(sender: &str, own_seat: &str, holder: Option<&str>) -> ChatRecord {
        let t = chrono::Utc.timestamp_opt(0, 0).unwrap();
        let session = Session {
            tenant: TenantId(1),
            call_id: CallId::parse("c").unwrap(),
            channel: "WhatsApp".into(),
            channel_id: "b".into(),
            user: ChatUser::default(),
            state: SessionState::Agent,
            end_reason: None,
            seat_id: holder.map(str::to_owned),
            started_at: t,
            ended_at: None,
            updated_at: t,
            report: None,
            robot_id: None,
            robot_state: None,
            answered_seq: 0,
            turn_due: None,
            state_version: 1,
            variables: serde_json::Map::new(),
        };
        let message = serde_json::from_value(json!({"msg_id": "m", "seat_id": own_seat,
            "timestamp": 1, "sender_type": sender, "content": {"type": "text", "text": "x"}}))
        .unwrap();
        ChatRecord {
            session,
            message: StoredMessage {
                seq: 1,
                call_id: CallId::parse("c").unwrap(),
                message,
                created_at: t,
                updated_at: t,
            },
        }
    }

    #[test]
    fn an_agent_account_filters_by_the_seat_with_that_email_else_as_a_seat_id() {
        let sandy = seat("708", "Sandy", "sandy@nxcloud.com");
        assert_eq!(agent_filter("sandy@nxcloud.com", Some(&sandy)), "708");
        assert_eq!(agent_filter("677", None), "677");
        assert_eq!(
            agent_filter("Sandy****@nxcloud.com", None),
            "Sandy****@nxcloud.com",
            "an address the directory does not know is taken as a seat id"
        );
    }

    #[test]
    fn a_record_shows_the_seats_name_and_email_else_its_id() {
        let sandy = seat("708", "Sandy Lee", "sandy@nxcloud.com");
        let agent = |id, found, queried| record_agent(id, found, queried);
        assert_eq!(
            agent("708", Some(&sandy), None),
            RecordAgent {
                id: "708".into(),
                name: "Sandy Lee".into(),
                account: "sandy@nxcloud.com".into()
            }
        );
        assert_eq!(
            agent("708", Some(&sandy), Some("Sandy@NXCloud.com")),
            RecordAgent {
                id: "708".into(),
                name: "Sandy Lee".into(),
                account: "Sandy@NXCloud.com".into()
            },
            "the queried value is echoed as given"
        );
        assert_eq!(
            agent("677", None, None),
            RecordAgent {
                id: "677".into(),
                name: "677".into(),
                account: "677".into()
            }
        );
        assert_eq!(agent("677", None, Some("677")).account, "677");
    }

    #[test]
    fn a_page_asks_for_each_of_its_seats_once() {
        let page = [
            record("agent", "708", Some("708")),
            record("user", "", Some("708")),
            record("agent", "677", Some("708")),
            record("robot", "", Some("708")),
            record("user", "", None),
        ];
        assert_eq!(page_seat_ids(&page), vec!["677", "708"]);
        assert!(page_seat_ids(&[record("system", "", Some("708"))]).is_empty());
        assert!(page_seat_ids(&[]).is_empty());
    }

    #[test]
    fn records_get_their_agents_from_the_seats_found() {
        let seats = [seat("708", "Sandy", "sandy@nxcloud.com")];
        let shown = show_records(
            vec![
                record("agent", "708", Some("708")),
                record("agent", "677", Some("708")),
                record("user", "", Some("708")),
                record("robot", "", Some("708")),
            ],
            &seats,
            None,
        );
        let agents: Vec<_> = shown
            .iter()
            .map(|s| s.agent.as_ref().map(|a| (&*a.id, &*a.name, &*a.account)))
            .collect();
        assert_eq!(
            agents,
            vec![
                Some(("708", "Sandy", "sandy@nxcloud.com")),
                Some(("677", "677", "677")),
                Some(("708", "Sandy", "sandy@nxcloud.com")),
                None,
            ]
        );
        let queried = show_records(vec![record("agent", "708", None)], &seats, Some("x@y"));
        assert_eq!(queried[0].agent.as_ref().unwrap().account, "x@y");
    }
}
