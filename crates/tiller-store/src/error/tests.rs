use std::collections::BTreeSet;

use tiller_core::{StoreError, Unique};

use super::{sqlite_error, unique_of, UNIQUES};

/// Unique constraints of the migrations that no write of the stores can break, so
/// [`UNIQUES`] leaves them out (a violation is a bug, `Other`): PostgreSQL's names.
/// Identity primary keys are generated; `sessions` are inserted with `ON CONFLICT DO
/// NOTHING`, `job_lanes` and `seats` upserted on their keys; `api_tokens` is no longer
/// written; channel ids are generated (32 random hex).
const NOT_HIT_PG: &[&str] = &[
    "tenants_pkey",
    "api_tokens_pkey",
    "sessions_pkey",
    "messages_pkey",
    "webhook_endpoints_pkey",
    "webhook_secrets_pkey",
    "webhook_events_pkey",
    "jobs_pkey",
    "job_lanes_pkey",
    "webhook_attempts_pkey",
    "robots_pkey",
    "seats_pkey",
    "channels_pkey",
];

/// The same on SQLite, whose `INTEGER PRIMARY KEY`s are the rowid and have no index.
const NOT_HIT_SQLITE: &[&str] = &[
    "api_tokens.token",
    "sessions.tenant_id, sessions.call_id",
    "job_lanes.kind, job_lanes.lane",
    "seats.tenant_id, seats.seat_id",
    "channels.id",
];

/// What a log line with `error = ?e` and its `source()` chain shows.
fn log_text(e: &StoreError) -> String {
    let mut out = format!("{e:?}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(" / ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[test]
fn logged_errors_carry_no_statement_text() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let placeholders = vec!["?"; 40_000].join(",");
    let sql = format!("SELECT 1 WHERE 1 IN ({placeholders})");
    let e = conn.prepare(&sql).map(|_| ()).unwrap_err();
    let logged = log_text(&sqlite_error(e));
    assert!(logged.len() < 600, "{} bytes: {logged:.200}", logged.len());
    assert!(!logged.contains("?,?"), "{logged}");
    let e = conn.prepare("SELEC nonsense").map(|_| ()).unwrap_err();
    let logged = log_text(&sqlite_error(e));
    assert!(logged.contains("syntax error"), "{logged}");
}

#[test]
fn maps_constraints_on_both_dialects() {
    assert_eq!(
        unique_of(None, "UNIQUE constraint failed: tenants.company"),
        Some(Unique::TenantCompany)
    );
    assert_eq!(
        unique_of(Some("tenants_company_key"), "duplicate key"),
        Some(Unique::TenantCompany)
    );
    assert_eq!(
        unique_of(Some("tenants_app_key_key"), "duplicate key"),
        Some(Unique::TenantAppKey)
    );
    assert_eq!(
        unique_of(
            None,
            "UNIQUE constraint failed: messages.tenant_id, messages.msg_id"
        ),
        Some(Unique::MessageMsgId)
    );
    assert_eq!(
        unique_of(Some("messages_msg_id_key"), "duplicate key"),
        Some(Unique::MessageMsgId)
    );
    // Unmapped constraints are no conflict, whichever dialect names them.
    assert_eq!(unique_of(Some("tenants_pkey"), "duplicate key"), None);
    assert_eq!(unique_of(None, "UNIQUE constraint failed: t.name"), None);
    assert_eq!(unique_of(None, "NOT NULL constraint failed: t.name"), None);
}

#[test]
fn every_unique_has_one_row() {
    for u in Unique::ALL {
        let rows = UNIQUES.iter().filter(|(v, _, _)| v == u).count();
        assert_eq!(rows, 1, "{u:?} has {rows} rows in UNIQUES");
    }
    let pg: BTreeSet<_> = UNIQUES.iter().map(|(_, pg, _)| pg).collect();
    let sqlite: BTreeSet<_> = UNIQUES.iter().map(|(_, _, sqlite)| sqlite).collect();
    assert_eq!(pg.len(), UNIQUES.len(), "a PostgreSQL name is in two rows");
    assert_eq!(sqlite.len(), UNIQUES.len(), "a SQLite name is in two rows");
}

/// Checks `found` (the schema's unique constraints) against the table and the
/// constraints no write can hit, one column of [`UNIQUES`] at a time.
fn assert_covers(found: &BTreeSet<String>, mapped: &[&str], not_hit: &[&str]) {
    for name in mapped {
        assert!(
            found.contains(*name),
            "{name} is not in the schema: {found:?}"
        );
    }
    for name in found {
        assert!(
            mapped.contains(&name.as_str()) || not_hit.contains(&name.as_str()),
            "the schema's {name} is in neither UNIQUES nor the not-hit list"
        );
    }
}

/// SQLite names a violation by its index's columns: the table's every unique index (a
/// `UNIQUE`, a text primary key, a unique partial index), spelled as the message does.
#[test]
fn sqlite_names_are_the_migrations() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    for m in crate::sqlite::MIGRATOR.iter() {
        conn.execute_batch(&m.sql).unwrap();
    }
    let mut tables = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .unwrap();
    let tables: Vec<String> = tables
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut found = BTreeSet::new();
    for table in tables {
        let mut list = conn
            .prepare(&format!("PRAGMA index_list({table})"))
            .unwrap();
        let indexes: Vec<(String, bool)> = list
            .query_map([], |r| Ok((r.get("name")?, r.get("unique")?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (index, _) in indexes.into_iter().filter(|(_, unique)| *unique) {
            let mut info = conn
                .prepare(&format!("PRAGMA index_info({index})"))
                .unwrap();
            let columns: Vec<String> = info
                .query_map([], |r| r.get::<_, String>("name"))
                .unwrap()
                .map(|c| c.map(|c| format!("{table}.{c}")))
                .collect::<Result<_, _>>()
                .unwrap();
            found.insert(columns.join(", "));
        }
    }
    let mapped: Vec<&str> = UNIQUES.iter().map(|(_, _, sqlite)| *sqlite).collect();
    assert_covers(&found, &mapped, NOT_HIT_SQLITE);

    // And a real violation reads as its row says (no session is needed for that).
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    conn.execute_batch(
        "INSERT INTO messages (tenant_id, call_id, msg_id, sender_type, content_type, ts, \
         created_at, updated_at, body) VALUES (1, 'c', 'm', 'user', 'text', 0, 0, 0, '{}')",
    )
    .unwrap();
    let dup = conn
        .execute_batch(
            "INSERT INTO messages (tenant_id, call_id, msg_id, sender_type, content_type, ts, \
             created_at, updated_at, body) VALUES (1, 'd', 'm', 'user', 'text', 0, 0, 0, '{}')",
        )
        .unwrap_err();
    assert!(matches!(
        sqlite_error(dup),
        StoreError::Conflict(Unique::MessageMsgId)
    ));
}

/// PostgreSQL names the constraint (or unique index): every one the migrations create,
/// when `TILLER_TEST_PG_URL` names a server.
#[tokio::test]
async fn postgres_names_are_the_migrations() {
    use sqlx::Connection as _;
    let Some(db) = crate::testing::TestDatabase::postgres().await else {
        return;
    };
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    crate::postgres::MIGRATOR.run(&mut conn).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.conname::text FROM pg_constraint c JOIN pg_namespace n \
         ON n.oid = c.connamespace WHERE n.nspname = 'public' AND c.contype IN ('p', 'u') \
         UNION SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' \
         AND indexdef LIKE 'CREATE UNIQUE INDEX%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let found: BTreeSet<String> = names
        .into_iter()
        .filter(|n| !n.starts_with("_sqlx_migrations"))
        .collect();
    let mapped: Vec<&str> = UNIQUES.iter().map(|(_, pg, _)| *pg).collect();
    assert_covers(&found, &mapped, NOT_HIT_PG);
    conn.close().await.unwrap();
}
