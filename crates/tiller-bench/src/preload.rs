//! Fills a store for the list scenario as fast as the store port allows: each session gets
//! its messages through `record_inbound`, at most [`PER_CALL`] a call (one transaction
//! each), from a few concurrent loaders. Messages are stamped "now", so the *query list
//! API's 24-hour window sees all of them.

use std::{
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use tiller_core::{
    conversations::{system_message, CallId, ChatUser, InboundMode, NewSession},
    messages::{Message, SystemEventKind},
    store::DynStore,
    Clock as _, SystemClock, TenantId,
};

/// Messages per `record_inbound` call (the API's own limit on one inbound call).
pub const PER_CALL: usize = 100;
/// Concurrent loaders. SQLite has one writer, so more only queue; PostgreSQL overlaps them.
const LOADERS: usize = 4;

/// The call id of session `i`, shared with the query bodies.
pub fn call_id(i: usize) -> String {
    format!("bench-{i:06}")
}

pub struct Loaded {
    /// Rows written: user messages plus one `conversation.start` per session.
    pub rows: u64,
    pub elapsed: Duration,
}

/// Writes `messages` user messages spread evenly over `sessions` sessions.
pub async fn load(
    store: &DynStore,
    tenant: TenantId,
    messages: u64,
    sessions: usize,
) -> anyhow::Result<Loaded> {
    let template: Message = serde_json::from_value(serde_json::json!({
        "msg_id": "", "seat_id": "", "timestamp": 0, "sender_type": "user", "status": "delivery",
        "content": { "type": "text", "text": "hello, I would like to know my repayment date" },
    }))
    .context("message template")?;
    let template = Arc::new(template);
    let next = Arc::new(AtomicUsize::new(0));
    let rows = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..LOADERS)
        .map(|_| {
            let (store, template, next, rows) =
                (store.clone(), template.clone(), next.clone(), rows.clone());
            tokio::spawn(async move {
                loader(&store, tenant, &template, messages, sessions, &next, &rows).await
            })
        })
        .collect();
    let ticker = {
        let rows = rows.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(5));
            every.tick().await;
            loop {
                every.tick().await;
                let n = rows.load(Ordering::Relaxed);
                let secs = start.elapsed().as_secs_f64();
                eprintln!(
                    "  {n} rows in {secs:.0} s ({:.0} rows/s)",
                    crate::report::f(n) / secs
                );
            }
        })
    };
    let joined: anyhow::Result<()> = async {
        for t in tasks {
            t.await.context("loader task")??;
        }
        Ok(())
    }
    .await;
    ticker.abort();
    joined?;
    Ok(Loaded {
        rows: rows.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
    })
}

/// Takes sessions off `next` until none are left, writing each one's share.
async fn loader(
    store: &DynStore,
    tenant: TenantId,
    template: &Message,
    messages: u64,
    sessions: usize,
    next: &AtomicUsize,
    rows: &AtomicU64,
) -> anyhow::Result<()> {
    let sessions_u64 = u64::try_from(sessions)?;
    loop {
        let s = next.fetch_add(1, Ordering::Relaxed);
        if s >= sessions {
            return Ok(());
        }
        // An even spread: the first `messages % sessions` sessions get one more.
        let s_u64 = u64::try_from(s)?;
        let share = messages / sessions_u64 + u64::from(s_u64 < messages % sessions_u64);
        let session = NewSession {
            call_id: CallId::parse(&call_id(s))?,
            channel: "chatbot".into(),
            channel_id: "bench".into(),
            user: ChatUser {
                id: format!("u{s}"),
                name: "n".into(),
            },
            robot_id: None,
            variables: serde_json::Map::new(),
        };
        let mut written = 0_u64;
        while written < share {
            let n = (share - written).min(PER_CALL as u64);
            let now = SystemClock.now();
            let batch: Vec<Message> = (written..written + n)
                .map(|k| {
                    let mut m = template.clone();
                    m.msg_id = format!("{s:016x}{k:016x}");
                    m.timestamp = now.timestamp();
                    m
                })
                .collect();
            let start = system_message(&SystemEventKind::Start, "", "", now);
            let inbound = store
                .record_inbound(
                    tenant,
                    &session,
                    &batch,
                    &start,
                    "acme",
                    InboundMode::Answer,
                    now,
                )
                .await
                .with_context(|| format!("loading session {s}"))?;
            let added = u64::try_from(inbound.inserted)? + u64::from(inbound.opened);
            rows.fetch_add(added, Ordering::Relaxed);
            written += n;
        }
    }
}
