//! The delivery-status rule for messages sent through WhatsApp.
//!
//! States: `accepted < sent < delivered < read`, and `failed`, which is terminal. Meta does
//! not promise order: statuses arrive late, twice, or out of order (a `read` can come
//! before its `delivered`, and when a message is read on arrival the `delivered` is never
//! sent). So [`advance`] moves a message only forwards and reports each real move once;
//! the caller fires one callback per [`Transition`] whose AIRUDDER status changed.
//!
//! Decisions (to record in `docs/compat.md`):
//! - `failed` is accepted only from `accepted` or `sent` (Meta reports an undeliverable
//!   message after its `sent`). A `failed` after `delivered` or `read` is ignored: the
//!   message reached a device, and a late failure (another of the user's devices) does
//!   not undo that. Nothing moves a message out of `failed`. This is stricter than
//!   [`crate::webhooks::replaced_statuses`], where a later delivery overrides a failure
//!   report from an integrator's own channel.
//! - `played` (a voice message was played) counts as `read`.
//! - `accepted` (the Graph API took the send) has no AIRUDDER spelling; it is shown as
//!   `sent`, the status AIRUDDER gives a message it has just sent. So `accepted → sent`
//!   is a real move of the stored state but fires no callback.

use crate::messages::MessageStatus;

use super::wire::MetaError;

/// How far a message sent through WhatsApp got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryState {
    /// The Graph API took the send (`message_status: accepted`); no webhook yet.
    Accepted,
    Sent,
    Delivered,
    Read,
    Failed(Failure),
}

/// Why a message failed: Meta's first error, as its status reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Failure {
    pub code: Option<i64>,
    pub title: String,
    pub details: Option<String>,
}

impl Failure {
    pub fn from_errors(errors: &[MetaError]) -> Self {
        errors.first().map_or_else(
            || Self {
                title: "failed".into(),
                ..Self::default()
            },
            |e| Self {
                code: Some(e.code),
                title: e.title().to_owned(),
                details: e.details().map(str::to_owned),
            },
        )
    }
}

impl DeliveryState {
    /// The state a Meta status word reports; `None` for a word Tiller does not know.
    pub fn from_meta(status: &str, errors: &[MetaError]) -> Option<Self> {
        Some(match status {
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" | "played" => Self::Read,
            "failed" => Self::Failed(Failure::from_errors(errors)),
            _ => return None,
        })
    }

    /// The stored spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed(_) => "failed",
        }
    }

    /// The inverse of [`DeliveryState::as_str`]; `failure` is used for `failed` only.
    pub fn from_stored(word: &str, failure: Option<Failure>) -> Option<Self> {
        Some(match word {
            "accepted" => Self::Accepted,
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "failed" => Self::Failed(failure.unwrap_or_default()),
            _ => return None,
        })
    }

    /// The AIRUDDER `status` the APIs show; `accepted` reads as `sent`.
    pub fn airudder_status(&self) -> MessageStatus {
        match self {
            Self::Accepted | Self::Sent => MessageStatus::Sent,
            Self::Delivered => MessageStatus::Delivery,
            Self::Read => MessageStatus::Read,
            Self::Failed(_) => MessageStatus::Failed,
        }
    }

    /// Nothing moves a message out of these.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Read | Self::Failed(_))
    }

    /// Position on the way to the user; `failed` is off that line.
    fn rank(&self) -> Option<u8> {
        match self {
            Self::Accepted => Some(0),
            Self::Sent => Some(1),
            Self::Delivered => Some(2),
            Self::Read => Some(3),
            Self::Failed(_) => None,
        }
    }
}

/// A real move of a message's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: DeliveryState,
    pub to: DeliveryState,
}

impl Transition {
    /// The AIRUDDER status to report, when the move changed it (every move but
    /// `accepted → sent`).
    pub fn callback_status(&self) -> Option<MessageStatus> {
        let to = self.to.airudder_status();
        (to != self.from.airudder_status()).then_some(to)
    }
}

/// The status rule: where `incoming` moves a message that is at `current`, or `None` when
/// it is late, a duplicate or out of order.
pub fn advance(current: &DeliveryState, incoming: &DeliveryState) -> Option<Transition> {
    let moves = match (current.rank(), incoming.rank()) {
        // Out of `failed` nothing moves.
        (None, _) => false,
        // A failure counts until the message reaches a device.
        (Some(at), None) => at <= 1,
        (Some(at), Some(to)) => to > at,
    };
    moves.then(|| Transition {
        from: current.clone(),
        to: incoming.clone(),
    })
}

/// Applies statuses in arrival order: the final state and each real move, in order.
pub fn advance_all(
    start: DeliveryState,
    incoming: impl IntoIterator<Item = DeliveryState>,
) -> (DeliveryState, Vec<Transition>) {
    let mut state = start;
    let mut moves = Vec::new();
    for next in incoming {
        if let Some(t) = advance(&state, &next) {
            state = t.to.clone();
            moves.push(t);
        }
    }
    (state, moves)
}

#[cfg(test)]
mod tests {
    use super::*;

    use DeliveryState::{Accepted, Delivered, Read, Sent};

    fn failed(code: i64) -> DeliveryState {
        DeliveryState::Failed(Failure {
            code: Some(code),
            title: "Message undeliverable".into(),
            details: None,
        })
    }

    #[test]
    fn each_pair_moves_only_forwards() {
        let f = failed(131_026);
        // (current, incoming, moves)
        let table = [
            (Accepted, Accepted, false),
            (Accepted, Sent, true),
            (Accepted, Delivered, true),
            (Accepted, Read, true),
            (Accepted, f.clone(), true),
            (Sent, Accepted, false),
            (Sent, Sent, false),
            (Sent, Delivered, true),
            (Sent, Read, true),
            (Sent, f.clone(), true),
            (Delivered, Sent, false),
            (Delivered, Delivered, false),
            (Delivered, Read, true),
            (Delivered, f.clone(), false),
            (Read, Sent, false),
            (Read, Delivered, false),
            (Read, Read, false),
            (Read, f.clone(), false),
            (f.clone(), Sent, false),
            (f.clone(), Delivered, false),
            (f.clone(), Read, false),
            (f.clone(), failed(131_047), false),
        ];
        for (current, incoming, moves) in table {
            let got = advance(&current, &incoming);
            assert_eq!(got.is_some(), moves, "{current:?} + {incoming:?}");
            if let Some(t) = got {
                assert_eq!((t.from, t.to), (current, incoming));
            }
        }
    }

    #[test]
    fn shuffled_and_repeated_sequences_end_right_with_one_move_per_change() {
        let f = failed(131_026);
        // (arrivals, final state, the states moved to, in order)
        let table: Vec<(Vec<DeliveryState>, DeliveryState, Vec<DeliveryState>)> = vec![
            (
                vec![Sent, Delivered, Read],
                Read,
                vec![Sent, Delivered, Read],
            ),
            (vec![Read, Delivered, Sent], Read, vec![Read]),
            (
                vec![Delivered, Sent, Delivered, Read, Read],
                Read,
                vec![Delivered, Read],
            ),
            (vec![Sent, Sent, Sent], Sent, vec![Sent]),
            (
                vec![Sent, f.clone(), Delivered, Read],
                f.clone(),
                vec![Sent, f.clone()],
            ),
            (vec![f.clone(), Sent, f.clone()], f.clone(), vec![f.clone()]),
            (
                vec![Delivered, f.clone(), Read],
                Read,
                vec![Delivered, Read],
            ),
            (vec![Read, f.clone()], Read, vec![Read]),
            (vec![], Accepted, vec![]),
        ];
        for (arrivals, end, moved_to) in table {
            let (state, moves) = advance_all(Accepted, arrivals.clone());
            assert_eq!(state, end, "{arrivals:?}");
            let to: Vec<_> = moves.iter().map(|t| t.to.clone()).collect();
            assert_eq!(to, moved_to, "{arrivals:?}");
            // Each move leaves the state the previous one reached.
            let mut at = Accepted;
            for t in &moves {
                assert_eq!(t.from, at);
                at = t.to.clone();
            }
        }
    }

    #[test]
    fn every_order_of_sent_delivered_read_ends_read() {
        let all = [Sent, Delivered, Read];
        for a in 0..3 {
            for b in 0..3 {
                for c in 0..3 {
                    if a == b || b == c || a == c {
                        continue;
                    }
                    let order = [all[a].clone(), all[b].clone(), all[c].clone()];
                    // Delivered twice more, late: changes nothing.
                    let arrivals = order.iter().cloned().chain([Delivered, Sent]);
                    let (state, moves) = advance_all(Accepted, arrivals);
                    assert_eq!(state, Read, "{order:?}");
                    let callbacks: Vec<_> = moves
                        .iter()
                        .filter_map(Transition::callback_status)
                        .collect();
                    let mut deduped = callbacks.clone();
                    deduped.dedup();
                    assert_eq!(callbacks, deduped, "{order:?}: a status reported twice");
                    assert_eq!(callbacks.last(), Some(&MessageStatus::Read));
                }
            }
        }
    }

    #[test]
    fn accepted_reads_as_sent_so_its_first_move_fires_no_callback() {
        let to_sent = advance(&Accepted, &Sent).unwrap();
        assert_eq!(to_sent.callback_status(), None);
        assert_eq!(
            advance(&Sent, &Delivered).unwrap().callback_status(),
            Some(MessageStatus::Delivery)
        );
        assert_eq!(
            advance(&Accepted, &failed(1)).unwrap().callback_status(),
            Some(MessageStatus::Failed)
        );
        assert_eq!(Accepted.airudder_status(), MessageStatus::Sent);
    }

    #[test]
    fn meta_words_and_stored_words_read_back() {
        let errors = vec![MetaError {
            code: 131_047,
            title: Some("Re-engagement message".into()),
            details: Some("More than 24 hours have passed".into()),
            ..MetaError::default()
        }];
        assert_eq!(
            DeliveryState::from_meta("failed", &errors),
            Some(DeliveryState::Failed(Failure {
                code: Some(131_047),
                title: "Re-engagement message".into(),
                details: Some("More than 24 hours have passed".into()),
            }))
        );
        assert_eq!(DeliveryState::from_meta("played", &[]), Some(Read));
        assert_eq!(DeliveryState::from_meta("deleted", &[]), None);
        for state in [Accepted, Sent, Delivered, Read, failed(7)] {
            let failure = match &state {
                DeliveryState::Failed(f) => Some(f.clone()),
                _ => None,
            };
            assert_eq!(
                DeliveryState::from_stored(state.as_str(), failure),
                Some(state)
            );
        }
    }
}
