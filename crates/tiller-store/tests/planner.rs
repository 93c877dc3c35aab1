#![expect(
    clippy::unwrap_used,
    reason = "a test should fail loudly at the failing step"
)]

//! The plans PostgreSQL makes for the hot lookups (when `TILLER_TEST_PG_URL` names a
//! server): a fresh database's tables are analyzed once they hold a few hundred rows, well
//! before autovacuum's first pass, so the generic plans each connection keeps for its
//! prepared statements are remade for tables that are not empty; and those plans read
//! through the indexes.

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};
use tiller_core::{
    conversations::{system_message, CallId, ChatUser, InboundMode, NewSession},
    messages::{Message, SystemEventKind},
    tenant::NewTenant,
    Clock,
};
use tiller_store::{connect, testing::TestDatabase, ConnectOptions};
use tiller_testkit::ManualClock;

#[tokio::test]
async fn young_tables_are_analyzed_and_turn_reads_use_the_session_index() {
    let Some(db) = TestDatabase::postgres().await else {
        return;
    };
    let store = connect(&db.url, &ConnectOptions::default()).await.unwrap();
    let clock = ManualClock::new();
    let (new, _) = NewTenant::generate("Acme").unwrap();
    let tenant = store.insert_tenant(&new, clock.now()).await.unwrap().id;
    for s in 0..20 {
        let session = NewSession {
            call_id: CallId::parse(&format!("s{s}")).unwrap(),
            channel: "WhatsApp".into(),
            channel_id: "waba-1".into(),
            user: ChatUser {
                id: format!("u{s}"),
                name: "u".into(),
            },
            robot_id: None,
            variables: serde_json::Map::new(),
        };
        let messages: Vec<Message> = (0..20).map(|m| user(&format!("s{s}-{m}"))).collect();
        let start = system_message(&SystemEventKind::Start, "", "", clock.now());
        let answer = InboundMode::Answer;
        let at = clock.now();
        let r = store.record_inbound(tenant, &session, &messages, &start, "acme", answer, at);
        r.await.unwrap();
    }

    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let began = Instant::now();
    loop {
        let analyzed: Option<bool> = sqlx::query_scalar(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'messages'",
        )
        .fetch_optional(&mut conn)
        .await
        .unwrap();
        if analyzed == Some(true) {
            break;
        }
        assert!(
            began.elapsed() < Duration::from_secs(20),
            "messages was not analyzed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The shape of the robot turn's read (`postgres/robots.rs`, `unanswered_messages`),
    // planned as a prepared statement's generic plan is.
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT seq, body FROM messages WHERE tenant_id = $1 AND call_id = $2 \
         AND seq > $3 AND sender_type = 'user' ORDER BY seq",
    )
    .bind(tenant.0)
    .bind("s3")
    .bind(0_i64)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("messages_session_seq"), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
}

fn user(msg_id: &str) -> Message {
    serde_json::from_value(serde_json::json!({
        "msg_id": msg_id,
        "timestamp": 1_700_000_000,
        "sender_type": "user",
        "status": "delivery",
        "content": { "type": "text", "text": "hello" },
    }))
    .unwrap()
}
