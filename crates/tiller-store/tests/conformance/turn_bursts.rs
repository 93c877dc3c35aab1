//! Bursts of robot turns, as a busy node runs them: many sessions' turns claimed at once,
//! two workers racing for each, then every winner's change, every loser's, a stale one
//! and one whose message id another session holds, all in flight together. PostgreSQL
//! carries such bursts in shared statements and transactions; every claim and change must
//! still get exactly the answer it would get alone.

use chrono::Duration;
use tiller_core::{
    conversations::{Session, SessionChange, SessionState},
    store::DynStore,
    StoreError, StoreResult, Unique,
};
use tiller_testkit::ManualClock;

use super::{
    conversations::fixtures::{call, message, Scope},
    open,
    robots::{robot, turn},
    TestDatabase,
};

on_every_backend!(turn_bursts_keep_each_answer, turn_burst_story);

const SESSIONS: usize = 16;

async fn turn_burst_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    store
        .create_robot(a.id, &robot("bot", true), a.now())
        .await
        .unwrap();
    let mut user_seq = Vec::new();
    for s in 0..SESSIONS {
        let inbound = a.inbound(&format!("s{s}"), &[&format!("s{s}-m0")]).await;
        user_seq.push(inbound.messages[0].seq);
    }

    let held = claim_burst(&a).await;
    // A user message lands on s0 while its turn runs: its turn stays due after the change.
    a.inbound("s0", &["s0-m1"]).await;
    change_burst(&a, &held, &user_seq).await;
}

/// Two workers claim every session's turn at once: exactly one wins each, with its lease.
async fn claim_burst(a: &Scope) -> Vec<(Session, String)> {
    let until = a.now() + Duration::seconds(30);
    let mut tasks = Vec::new();
    for s in 0..SESSIONS {
        for worker in ["x", "y"] {
            let a = a.clone();
            let lease = format!("{worker}{s}");
            tasks.push(tokio::spawn(async move {
                let claimed = a
                    .store
                    .claim_turn(a.id, &call(&format!("s{s}")), &lease, a.now(), until)
                    .await;
                (s, lease, claimed.unwrap())
            }));
        }
    }
    let mut held: Vec<Option<(Session, String)>> = (0..SESSIONS).map(|_| None).collect();
    for t in tasks {
        let (s, lease, claimed) = t.await.unwrap();
        if let Some(session) = claimed {
            assert!(held[s].is_none(), "s{s} claimed twice");
            assert_eq!(session.call_id.as_str(), format!("s{s}"));
            held[s] = Some((session, lease));
        }
    }
    held.into_iter()
        .enumerate()
        .map(|(s, h)| h.unwrap_or_else(|| panic!("nobody claimed s{s}")))
        .collect()
}

/// What each change of the burst is.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Winner,
    /// The other worker's lease.
    Loser,
    /// The winner's lease, one version behind.
    Stale,
    /// A message id s1 already holds.
    Thief,
}

async fn change_burst(a: &Scope, held: &[(Session, String)], user_seq: &[i64]) {
    let mut tasks = Vec::new();
    for (s, (session, lease)) in held.iter().enumerate() {
        let mut kinds = vec![Kind::Winner, Kind::Loser];
        if s == 2 {
            kinds.push(Kind::Stale);
        }
        if s == 3 {
            // s3's only change writes an id s1 holds: s3 gets the conflict, s1 is untouched.
            kinds = vec![Kind::Thief];
        }
        for kind in kinds {
            let change = change_of(session, lease, user_seq[s], s, kind);
            let a = a.clone();
            tasks.push(tokio::spawn(async move {
                let id = call(&format!("s{s}"));
                let applied = a.store.apply_session_change(a.id, &id, &change, a.now());
                (s, kind, applied.await)
            }));
        }
    }
    for t in tasks {
        let (s, kind, applied) = t.await.unwrap();
        check_answer(s, kind, applied, &held[s].0);
    }
    check_stored(a, held, user_seq).await;
}

fn change_of(session: &Session, lease: &str, seq: i64, s: usize, kind: Kind) -> SessionChange {
    let other = if lease.starts_with('x') { 'y' } else { 'x' };
    let lease = match kind {
        Kind::Loser => format!("{other}{s}"),
        _ => lease.to_owned(),
    };
    let mut change = turn(session, Some(&lease), SessionState::Bot, Some(seq));
    let reply = match kind {
        Kind::Thief => "s1-m0".to_owned(),
        _ => format!("reply-s{s}"),
    };
    change.messages = vec![message(&reply, "robot", session.updated_at)];
    if kind == Kind::Stale {
        change.expected_version -= 1;
    }
    change
}

fn check_answer(s: usize, kind: Kind, applied: StoreResult<Option<Session>>, before: &Session) {
    match kind {
        Kind::Winner => {
            let done = applied
                .unwrap()
                .unwrap_or_else(|| panic!("s{s}'s winner refused"));
            assert_eq!(done.state_version, before.state_version + 1, "s{s}");
            assert_eq!(
                done.turn_due.is_some(),
                s == 0,
                "s{s}: due only with a new message"
            );
        }
        Kind::Loser | Kind::Stale => {
            assert!(applied.unwrap().is_none(), "s{s}: {kind:?} must be refused");
        }
        Kind::Thief => assert!(
            matches!(applied, Err(StoreError::Conflict(Unique::MessageMsgId))),
            "s{s}: {applied:?}"
        ),
    }
}

/// Each session moved once; each reply is stored once, in its own session.
async fn check_stored(a: &Scope, held: &[(Session, String)], user_seq: &[i64]) {
    for (s, (before, _)) in held.iter().enumerate() {
        let now = a.session(&format!("s{s}")).await;
        let replies: Vec<String> = a
            .messages(&format!("s{s}"))
            .await
            .into_iter()
            .filter(|m| m.message.sender_type.as_str() == "robot")
            .map(|m| m.message.msg_id.as_str().to_owned())
            .collect();
        if s == 3 {
            assert_eq!(now.state_version, before.state_version, "s3 unchanged");
            assert!(replies.is_empty(), "s3 wrote nothing: {replies:?}");
        } else {
            assert_eq!(now.state_version, before.state_version + 1, "s{s}");
            assert_eq!(now.answered_seq, user_seq[s], "s{s}");
            assert_eq!(replies, [format!("reply-s{s}")], "s{s}");
        }
    }
}
