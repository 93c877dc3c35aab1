//! Bursts of message pages, as many clients page through chats at once: both orders,
//! cursors, a cursor naming no message of its session, the "recent only" bound and
//! another tenant's session, all in flight together. PostgreSQL reads such a burst with
//! shared statements; each page must be exactly the page read alone.

use chrono::Duration;
use tiller_core::{
    conversations::{MessageQuery, SortOrder, StoredMessage},
    store::DynStore,
    StoreResult,
};
use tiller_testkit::ManualClock;

use super::{open, TestDatabase};
use crate::conversations::fixtures::{call, Scope};

on_every_backend!(list_bursts_keep_each_page, list_burst_story);

const SESSIONS: usize = 6;
const MESSAGES: usize = 7;

async fn list_burst_story(store: DynStore) {
    let clock = ManualClock::new();
    let a = Scope::new(&store, "A", &clock).await;
    let b = Scope::new(&store, "B", &clock).await;
    for s in 0..SESSIONS {
        for m in 0..MESSAGES {
            clock.advance(Duration::seconds(1));
            a.inbound(&format!("s{s}"), &[&format!("s{s}-m{m}")]).await;
        }
    }
    b.inbound("s0", &["b-only"]).await;

    let queries = queries(&a, &b);
    let mut alone = Vec::new();
    for (scope, q) in &queries {
        alone.push(ids(store.list_messages(scope.id, q).await));
    }
    let mut tasks = Vec::new();
    for _round in 0..3 {
        for (scope, q) in &queries {
            let (store, id, q) = (store.clone(), scope.id, q.clone());
            tasks.push(tokio::spawn(
                async move { store.list_messages(id, &q).await },
            ));
        }
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let page = ids(t.await.unwrap());
        assert_eq!(
            page,
            alone[i % queries.len()],
            "query {}",
            i % queries.len()
        );
    }
    // The pages are what they should be, not merely the same twice.
    assert_eq!(
        alone[0],
        Ok(vec!["s0-m6".into(), "s0-m5".into(), "s0-m4".into()])
    );
    assert_eq!(alone[1], Ok(vec!["s1-m3".into(), "s1-m4".into()]));
    assert_eq!(alone[2], Err("NotFound(Message)".to_owned()));
    assert_eq!(alone[3], Ok(vec!["s3-m6".into(), "s3-m5".into()]));
    // B's session of the same call_id: its start message, then its own message.
    let b_page = alone[4].clone().unwrap();
    assert_eq!((b_page.len(), b_page[1].as_str()), (2, "b-only"));
}

/// A page's msg_ids, or its error, spelled out so pages compare.
fn ids(r: StoreResult<Vec<StoredMessage>>) -> Result<Vec<String>, String> {
    r.map(|page| page.into_iter().map(|m| m.message.msg_id).collect())
        .map_err(|e| format!("{e:?}"))
}

/// One of each shape, then plain newest-first pages of every session.
fn queries(a: &Scope, b: &Scope) -> Vec<(Scope, MessageQuery)> {
    let q = |s: &str, after: Option<&str>, size, order| MessageQuery {
        call_id: call(s),
        after_msg_id: after.map(str::to_owned),
        since: None,
        size,
        order,
    };
    let mut out = vec![
        (a.clone(), q("s0", None, 3, SortOrder::NewestFirst)),
        (a.clone(), q("s1", Some("s1-m2"), 2, SortOrder::OldestFirst)),
        // s2's page after a message of s1: no such message in s2.
        (a.clone(), q("s2", Some("s1-m0"), 5, SortOrder::NewestFirst)),
        (
            a.clone(),
            MessageQuery {
                // s3's last two messages came 15 and 14 seconds ago.
                since: Some(a.now() - Duration::seconds(15)),
                ..q("s3", None, 10, SortOrder::NewestFirst)
            },
        ),
        (b.clone(), q("s0", None, 10, SortOrder::OldestFirst)),
    ];
    for s in 0..SESSIONS {
        out.push((
            a.clone(),
            q(&format!("s{s}"), None, 4, SortOrder::NewestFirst),
        ));
    }
    out
}
