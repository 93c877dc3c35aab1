//! Conversation stories: sessions and their messages, on every backend.

use chrono::Duration;
use serde_json::json;
use tiller_core::{
    conversations::{system_message, SortOrder, StoredMessage},
    conversations::{ChatRecordQuery, EndReason, MessageQuery, SessionQuery, SessionState},
    messages::{MessageStatus, SystemEventKind},
    store::DynStore,
    Entity,
};
use tiller_testkit::ManualClock;

use super::{open, TestDatabase};
use fixtures::{
    call, conflict, ids, message, not_found, rejected, session, user, whatsapp, Scope, ANSWER,
};

#[path = "conversation_fixtures.rs"]
pub(crate) mod fixtures;

on_every_backend!(inbound_opens_once_and_is_idempotent, inbound_story);
on_every_backend!(append_checks_session_and_msg_id, append_story);
on_every_backend!(list_messages_pages_by_cursor, list_messages_story);
on_every_backend!(list_sessions_filters_and_pages, list_sessions_story);
on_every_backend!(mark_read_counts_user_messages, mark_read_story);
on_every_backend!(close_and_report_rules, close_and_report_story);
on_every_backend!(chat_records_filter_and_page, chat_records_story);
on_every_backend!(tenants_never_see_each_other, tenant_isolation_story);
on_every_backend!(concurrent_inbound_opens_once, concurrent_inbound_story);
on_every_backend!(session_variables_are_kept_from_the_start, variables_story);

/// The variables of the message that opens (or reopens) a session are stored with it;
/// later messages' variables change nothing.
async fn variables_story(store: DynStore) {
    let a = Scope::new(&store, "A", &ManualClock::new()).await;
    let with = |vars: serde_json::Value| {
        let mut new = whatsapp("c1");
        new.variables.clone_from(vars.as_object().unwrap());
        new
    };
    let first = a
        .inbound_to(&with(json!({"name": "xinxin", "n": 1})), &["m1"])
        .await;
    assert_eq!(
        json!(first.session.variables),
        json!({"name": "xinxin", "n": 1})
    );
    let later = a.inbound_to(&with(json!({"other": true})), &["m2"]).await;
    assert_eq!(
        json!(later.session.variables),
        json!({"name": "xinxin", "n": 1})
    );
    a.close("c1", EndReason::User).await.unwrap();
    let reopened = a
        .inbound_to(&with(json!({"project": "voicebot"})), &["m3"])
        .await;
    assert_eq!(
        json!(store.session(a.id, &call("c1")).await.unwrap().variables),
        json!({"project": "voicebot"})
    );
    assert!(reopened.opened);
    assert!(a.inbound("c2", &["m4"]).await.session.variables.is_empty());
}

async fn inbound_story(store: DynStore) {
    let a = Scope::new(&store, "A", &ManualClock::new()).await;
    let t0 = a.now();

    let first = a.inbound("c1", &["m1", "m2"]).await;
    assert!(first.opened);
    assert_eq!(first.inserted, 2);
    assert_eq!(ids(&first.messages), ["m1", "m2"]);
    assert_eq!(
        first.messages[0].message,
        user("m1", t0),
        "the body round-trips"
    );
    let s = &first.session;
    assert_eq!(
        (s.tenant, s.state, s.user.name.as_str()),
        (a.id, SessionState::Bot, "u-1 name")
    );
    assert_eq!((s.started_at, s.updated_at), (t0, t0));
    let stored = a.messages("c1").await;
    assert_eq!(a.kinds("c1").await, ["start", "user", "user"]);
    assert!(stored.windows(2).all(|w| w[0].seq < w[1].seq));

    // A retry with one old and one new id stores only the new one and returns the old as stored.
    a.clock.advance(Duration::seconds(5));
    let retry = a.inbound("c1", &["m2", "m3"]).await;
    assert!(!retry.opened);
    assert_eq!(retry.inserted, 1);
    assert_eq!(retry.messages[0], first.messages[1]);
    assert_eq!(retry.messages[1].created_at, a.now());
    assert_eq!(
        (retry.session.started_at, retry.session.updated_at),
        (t0, a.now())
    );

    // The same id twice in one batch is written once.
    let twice = a.inbound("c1", &["m4", "m4"]).await;
    assert_eq!(twice.inserted, 1);
    assert_eq!(twice.messages[0], twice.messages[1]);
    assert_eq!(a.messages("c1").await.len(), 5);

    // An id already used in another session is a conflict, and nothing of the call stays.
    let start = system_message(&SystemEventKind::Start, "", "", a.now());
    let messages = [user("m9", a.now()), user("m1", a.now())];
    let elsewhere = store
        .record_inbound(
            a.id,
            &whatsapp("c2"),
            &messages,
            &start,
            "acme",
            ANSWER,
            a.now(),
        )
        .await;
    conflict(elsewhere);
    not_found(&store.session(a.id, &call("c2")).await, Entity::Session);

    // After a close, the next user message reopens the session with a fresh start.
    a.clock.advance(Duration::minutes(1));
    a.close("c1", EndReason::Expire).await.unwrap();
    a.clock.advance(Duration::minutes(1));
    let reopened = a.inbound("c1", &["m5"]).await;
    assert!(reopened.opened);
    assert_eq!(reopened.inserted, 1);
    let s = &reopened.session;
    assert_eq!(
        (s.state, s.end_reason, s.ended_at),
        (SessionState::Bot, None, None)
    );
    assert_eq!((s.seat_id.as_deref(), s.started_at), (None, a.now()));
    assert_eq!(store.session(a.id, &call("c1")).await.unwrap(), *s);
    let kinds = a.kinds("c1").await;
    assert_eq!(
        kinds,
        ["start", "user", "user", "user", "user", "close", "start", "user"]
    );
    not_found(&store.session(a.id, &call("nope")).await, Entity::Session);
}

async fn append_story(store: DynStore) {
    let a = Scope::new(&store, "A", &ManualClock::new()).await;
    let robot = message("r1", "robot", a.now());
    not_found(&a.append("c1", &robot).await, Entity::Session);

    let opened = a.inbound("c1", &["m1"]).await;
    a.inbound("c2", &["m2"]).await;
    a.clock.advance(Duration::seconds(3));
    let stored = a.append("c1", &robot).await.unwrap();
    assert_eq!((&stored.message, &stored.call_id), (&robot, &call("c1")));
    assert!(stored.seq > opened.messages[0].seq);
    assert_eq!((stored.created_at, stored.updated_at), (a.now(), a.now()));
    assert_eq!(
        store.session(a.id, &call("c1")).await.unwrap().updated_at,
        a.now()
    );

    // An agent's message keeps its seat and status; columns and body agree on read.
    let mut agent = message("g1", "agent", a.now());
    agent.seat_id = Some("agent-7".into());
    assert_eq!(a.append("c1", &agent).await.unwrap().message, agent);
    assert_eq!(a.messages("c1").await.last().unwrap().message, agent);

    // A reused id is a conflict, in the same session or in another one of the tenant.
    conflict(a.append("c1", &message("r1", "robot", a.now())).await);
    conflict(a.append("c2", &message("m1", "robot", a.now())).await);

    a.close("c1", EndReason::Agent).await.unwrap();
    let late = message("r2", "robot", a.now());
    rejected(a.append("c1", &late).await, "session is closed");
    assert_eq!(a.messages("c1").await.len(), 5);
}

async fn list_messages_story(store: DynStore) {
    let a = Scope::new(&store, "A", &ManualClock::new()).await;
    let t0 = a.now();
    a.inbound("c1", &["m0"]).await;
    a.inbound("other", &["x0"]).await;
    for i in 1..25 {
        a.clock.advance(Duration::minutes(1));
        let m = message(&format!("m{i}"), "robot", a.now());
        a.append("c1", &m).await.unwrap();
    }
    let everything = a.messages("c1").await;
    assert_eq!(everything.len(), 26);
    assert_eq!(ids(&everything)[1..4], ["m0", "m1", "m2"]);

    // Newest first, ten at a time, each page continuing after the previous page's last id.
    let mut q = MessageQuery {
        size: 10,
        order: SortOrder::NewestFirst,
        ..fixtures::oldest_first("c1")
    };
    let mut pages: Vec<Vec<StoredMessage>> = Vec::new();
    loop {
        let page = store.list_messages(a.id, &q).await.unwrap();
        let Some(last) = page.last() else { break };
        q.after_msg_id = Some(last.message.msg_id.clone());
        pages.push(page);
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [10, 10, 6]);
    assert_eq!(ids(&pages[0])[..3], ["m24", "m23", "m22"]);
    let mut reversed = everything.clone();
    reversed.reverse();
    assert_eq!(pages.concat(), reversed);

    // Oldest first from a cursor.
    let from_m8 = MessageQuery {
        after_msg_id: Some("m8".into()),
        size: 3,
        ..fixtures::oldest_first("c1")
    };
    assert_eq!(a.message_ids(&from_m8).await, ["m9", "m10", "m11"]);

    // `since` keeps the messages created at or after the instant, in either order.
    let mut recent = MessageQuery {
        since: Some(t0 + Duration::minutes(20)),
        ..fixtures::oldest_first("c1")
    };
    assert_eq!(
        a.message_ids(&recent).await,
        ["m20", "m21", "m22", "m23", "m24"]
    );
    recent.order = SortOrder::NewestFirst;
    recent.size = 2;
    recent.after_msg_id = Some("m23".into());
    assert_eq!(a.message_ids(&recent).await, ["m22", "m21"]);

    // A cursor must name a message of this session.
    for cursor in ["missing", "x0"] {
        let q = MessageQuery {
            after_msg_id: Some(cursor.into()),
            ..fixtures::oldest_first("c1")
        };
        not_found(&store.list_messages(a.id, &q).await, Entity::Message);
    }
    assert!(a.messages("no-such-session").await.is_empty());
}

async fn list_sessions_story(store: DynStore) {
    let a = Scope::new(&store, "A", &ManualClock::new()).await;
    let t0 = a.now();
    let plan = [
        ("s1", "WhatsApp", "waba-1", "u1", 0),
        ("s2", "LINE", "line-1", "u2", 1),
        ("s3", "WhatsApp", "waba-2", "u3", 2),
        ("s4", "WhatsApp", "waba-1", "u4", 3),
        ("s5", "LINE", "line-1", "u5", 3), // the same start as s4: ties go by call_id
    ];
    for (id, channel, channel_id, user_id, minutes) in plan {
        a.clock.set(t0 + Duration::minutes(minutes));
        let new = session(id, channel, channel_id, user_id);
        a.inbound_to(&new, &[&format!("{id}-m")]).await;
    }
    a.close("s2", EndReason::User).await.unwrap();

    let all = SessionQuery {
        size: 10,
        ..SessionQuery::default()
    };
    assert_eq!(
        a.sessions(all.clone()).await,
        ["s5", "s4", "s3", "s2", "s1"]
    );

    let mut page = SessionQuery {
        size: 2,
        ..all.clone()
    };
    let mut walked = Vec::new();
    loop {
        let got = a.sessions(page.clone()).await;
        let Some(cursor) = got.last() else { break };
        page.after_call_id = Some(call(cursor));
        walked.push(got);
    }
    assert_eq!(walked, [vec!["s5", "s4"], vec!["s3", "s2"], vec!["s1"]]);

    let whatsapp = SessionQuery {
        channel: Some("WhatsApp".into()),
        ..all.clone()
    };
    assert_eq!(a.sessions(whatsapp.clone()).await, ["s4", "s3", "s1"]);
    let after_s4 = SessionQuery {
        size: 1,
        after_call_id: Some(call("s4")),
        ..whatsapp
    };
    assert_eq!(a.sessions(after_s4).await, ["s3"]);
    let filtered = |f: fn(&mut SessionQuery)| {
        let mut q = all.clone();
        f(&mut q);
        a.sessions(q)
    };
    assert!(filtered(|q| q.channel = Some("whatsapp".into()))
        .await
        .is_empty());
    assert_eq!(
        filtered(|q| q.channel_id = Some("waba-1".into())).await,
        ["s4", "s1"]
    );
    assert_eq!(filtered(|q| q.user_id = Some("u3".into())).await, ["s3"]);
    assert_eq!(
        filtered(|q| q.state = Some(SessionState::Closed)).await,
        ["s2"]
    );
    let window = SessionQuery {
        started_from: Some(t0 + Duration::minutes(1)),
        started_to: Some(t0 + Duration::minutes(2)),
        ..all.clone()
    };
    assert_eq!(a.sessions(window).await, ["s3", "s2"]);
    let unknown = SessionQuery {
        after_call_id: Some(call("s9")),
        ..all
    };
    not_found(&store.list_sessions(a.id, &unknown).await, Entity::Session);
}

async fn mark_read_story(store: DynStore) {
    let a = Scope::new(&store, "A", &ManualClock::new()).await;
    let mut quiet = user("u4", a.now());
    quiet.status = None;
    let batch = [
        user("u1", a.now()),
        user("u2", a.now()),
        user("u3", a.now()),
        quiet,
    ];
    a.inbound_messages(&whatsapp("c1"), &batch).await;
    a.append("c1", &message("r1", "robot", a.now()))
        .await
        .unwrap();
    a.clock.advance(Duration::seconds(30));

    let c1 = call("c1");
    let mark = |ids: Option<&'static [&'static str]>| {
        let ids: Option<Vec<String>> = ids.map(|i| i.iter().map(|s| (*s).to_owned()).collect());
        let (store, now, c1) = (store.clone(), a.now(), c1.clone());
        async move { store.mark_read(a.id, &c1, ids.as_deref(), now).await }
    };
    assert_eq!(
        mark(Some(&["u1", "r1"])).await.unwrap(),
        1,
        "only user messages"
    );
    assert_eq!(mark(Some(&[])).await.unwrap(), 0);
    assert_eq!(
        mark(None).await.unwrap(),
        3,
        "the rest, a status-less one included"
    );
    assert_eq!(mark(None).await.unwrap(), 0);

    let seen: Vec<_> = a
        .messages("c1")
        .await
        .into_iter()
        .skip(1)
        .map(|m| (m.message.status, m.updated_at == a.now()))
        .collect();
    let read = (Some(MessageStatus::Read), true);
    assert_eq!(
        seen,
        [read, read, read, read, (Some(MessageStatus::Sent), false)]
    );
    not_found(
        &store.mark_read(a.id, &call("nope"), None, a.now()).await,
        Entity::Session,
    );
}

async fn close_and_report_story(store: DynStore) {
    let a = Scope::new(&store, "A", &ManualClock::new()).await;
    let report = json!({ "intent": "loan", "score": 4 });
    not_found(&a.report("c1", &report).await, Entity::Session);
    not_found(&a.close("c1", EndReason::Robot).await, Entity::Session);
    a.inbound("c1", &["m1"]).await;
    rejected(a.report("c1", &report).await, "session is still open");

    a.clock.advance(Duration::minutes(10));
    let closed = a.close("c1", EndReason::Robot).await.unwrap();
    assert_eq!(
        (closed.state, closed.end_reason),
        (SessionState::Closed, Some(EndReason::Robot))
    );
    assert_eq!(
        (closed.ended_at, closed.updated_at),
        (Some(a.now()), a.now())
    );
    assert_eq!(closed.report, None);
    assert_eq!(a.kinds("c1").await, ["start", "user", "close"]);
    rejected(
        a.close("c1", EndReason::User).await,
        "session is already closed",
    );

    a.clock.advance(Duration::minutes(1));
    let saved = a.report("c1", &report).await.unwrap();
    assert_eq!((saved.report, saved.updated_at), (Some(report), a.now()));
    assert_eq!(saved.end_reason, Some(EndReason::Robot));
    let later = json!({ "intent": "card" });
    a.report("c1", &later).await.unwrap();
    assert_eq!(
        store.session(a.id, &call("c1")).await.unwrap().report,
        Some(later)
    );
}

async fn chat_records_story(store: DynStore) {
    let a = Scope::new(&store, "A", &ManualClock::new()).await;
    let t0 = a.now();
    a.inbound_to(&session("c1", "WhatsApp", "waba-1", "u1"), &["m1"])
        .await;
    a.clock.advance(Duration::minutes(1));
    let mut agent = message("m2", "agent", a.now());
    agent.seat_id = Some("agent-7".into());
    a.append("c1", &agent).await.unwrap();
    a.clock.advance(Duration::minutes(1));
    a.inbound_to(&session("c2", "LINE", "line-1", "u2"), &["m3"])
        .await;
    a.clock.advance(Duration::minutes(1));
    a.append("c2", &message("m4", "robot", a.now()))
        .await
        .unwrap();

    let all = ChatRecordQuery {
        order: SortOrder::OldestFirst,
        page: 1,
        page_size: 100,
        ..ChatRecordQuery::default()
    };
    let (total, everything) = a.records(all.clone()).await;
    assert_eq!(total, 6);
    let users: Vec<_> = everything.iter().filter(|id| id.starts_with('m')).collect();
    assert_eq!(users, ["m1", "m2", "m3", "m4"]);

    let filtered = |f: fn(&mut ChatRecordQuery)| {
        let mut q = all.clone();
        f(&mut q);
        a.records(q)
    };
    let c1 = (3, vec![everything[0].clone(), "m1".into(), "m2".into()]);
    let c2 = (3, vec![everything[3].clone(), "m3".into(), "m4".into()]);
    assert_eq!(filtered(|q| q.channels = vec!["whatsapp".into()]).await, c1);
    let both = filtered(|q| q.channels = vec!["WHATSAPP".into(), "line".into()]).await;
    assert_eq!(both.0, 6);
    assert_eq!(filtered(|q| q.user_id = Some("u1".into())).await, c1);
    assert_eq!(filtered(|q| q.channel_id = Some("line-1".into())).await, c2);
    assert_eq!(filtered(|q| q.call_id = Some(call("c2"))).await, c2);
    let seat = filtered(|q| q.seat_id = Some("agent-7".into())).await;
    assert_eq!(seat, (1, vec!["m2".to_owned()]));

    // `from` and `to` are inclusive bounds on when the message was stored.
    let window = ChatRecordQuery {
        from: Some(t0 + Duration::minutes(1)),
        to: Some(t0 + Duration::minutes(2)),
        ..all.clone()
    };
    assert_eq!(a.records(window).await, (3, everything[2..5].to_vec()));

    // Numbered pages, newest first; the total does not depend on the page.
    let paged = ChatRecordQuery {
        order: SortOrder::NewestFirst,
        page_size: 4,
        ..all
    };
    let mut newest = everything.clone();
    newest.reverse();
    assert_eq!(a.records(paged.clone()).await, (6, newest[..4].to_vec()));
    let second = ChatRecordQuery {
        page: 2,
        ..paged.clone()
    };
    assert_eq!(a.records(second).await, (6, newest[4..].to_vec()));
    let third = ChatRecordQuery { page: 3, ..paged };
    assert_eq!(a.records(third).await, (6, vec![]));
}

async fn tenant_isolation_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let b = Scope::new(&store, "B", &clock).await;
    a.inbound("same", &["dup"]).await;
    a.inbound("a-only", &["a-msg"]).await;

    // B reuses A's call_id and msg_ids: its own session, its own messages.
    let mine = b.inbound("same", &["dup"]).await;
    assert!(mine.opened);
    assert_eq!((mine.inserted, mine.session.tenant), (1, b.id));
    b.append("same", &message("a-msg", "robot", b.now()))
        .await
        .unwrap();

    a.close("same", EndReason::User).await.unwrap();
    let b_same = store.session(b.id, &call("same")).await.unwrap();
    assert_eq!(b_same.state, SessionState::Bot);
    assert_eq!(
        store
            .mark_read(b.id, &call("same"), None, b.now())
            .await
            .unwrap(),
        1
    );
    let a_same = a.messages("same").await;
    assert_eq!(
        (a_same.len(), a_same[1].message.status),
        (3, Some(MessageStatus::Delivery))
    );
    assert_eq!(ids(&b.messages("same").await)[1..], ["dup", "a-msg"]);

    let listed = store
        .list_sessions(
            b.id,
            &SessionQuery {
                size: 10,
                ..SessionQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].tenant, b.id);
    let q = ChatRecordQuery {
        page: 1,
        page_size: 100,
        ..ChatRecordQuery::default()
    };
    let (total, rows) = store.chat_records(b.id, &q).await.unwrap();
    assert_eq!((total, rows.len()), (3, 3));
    assert!(rows.iter().all(|r| r.session.tenant == b.id));

    // A's session does not exist for B, whatever B tries.
    let a_only = call("a-only");
    not_found(&store.session(b.id, &a_only).await, Entity::Session);
    not_found(
        &b.append("a-only", &user("x", b.now())).await,
        Entity::Session,
    );
    not_found(
        &store.mark_read(b.id, &a_only, None, b.now()).await,
        Entity::Session,
    );
    not_found(&b.close("a-only", EndReason::User).await, Entity::Session);
    not_found(&b.report("a-only", &json!({})).await, Entity::Session);
    let cursor = SessionQuery {
        size: 10,
        after_call_id: Some(a_only.clone()),
        ..SessionQuery::default()
    };
    not_found(&store.list_sessions(b.id, &cursor).await, Entity::Session);
    assert!(b.messages("a-only").await.is_empty());
    let q = MessageQuery {
        after_msg_id: Some("a-msg".into()),
        ..fixtures::oldest_first("a-only")
    };
    not_found(&store.list_messages(b.id, &q).await, Entity::Message);
    assert_eq!(store.session(a.id, &a_only).await.unwrap().tenant, a.id);
}

/// First messages racing on one new session: one opens it, and each id is stored once.
async fn concurrent_inbound_story(store: DynStore) {
    let a = Scope::new(&store, "A", &ManualClock::new()).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let a = a.clone();
            tokio::spawn(async move { a.inbound("race", &["r1", "r2"]).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    assert_eq!(results.iter().filter(|r| r.opened).count(), 1);
    assert_eq!(results.iter().map(|r| r.inserted).sum::<usize>(), 2);
    assert!(results.iter().all(|r| r.messages == results[0].messages));
    assert_eq!(a.kinds("race").await, ["start", "user", "user"]);
}
