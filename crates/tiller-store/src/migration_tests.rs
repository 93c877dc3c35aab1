//! Migration 0009 on a database that holds deliveries: every delivery becomes its job with
//! its id, state, attempts and times; the attempt log keeps its rows and now names the job;
//! a disabled endpoint's lane is held. Runs on SQLite, and on PostgreSQL when
//! `TILLER_TEST_PG_URL` names a server.

use sqlx::migrate::Migrator;

/// An outbox before 0009: tenant 1, endpoints `on` and `off` (disabled), one event, its
/// three deliveries (pending and leased, delivered, dead) and two attempts of delivery 2.
const OUTBOX_BEFORE: &str = "\
INSERT INTO tenants (id, name, company, app_key, app_secret_hash, sign_key, sign_secret, \
 access_key, access_secret, created_at) VALUES (1, 'A', 'a', 'ak', 'h', 'sk', 's', 'xk', 'x', 0);
INSERT INTO webhook_endpoints (id, tenant_id, url, enabled, created_at, updated_at) \
 VALUES ('on', 1, 'https://on.test', TRUE, 0, 0), ('off', 1, 'https://off.test', FALSE, 0, 0);
INSERT INTO webhook_events (seq, event_id, tenant_id, event_type, ordering_key, payload, \
 created_at) VALUES (7, 'ev', 1, 'test.ping', 'k', '{}', 0);
INSERT INTO webhook_deliveries (id, event_seq, endpoint_id, tenant_id, ordering_key, state, \
 attempts, next_attempt_at, lease_until, updated_at) VALUES \
 (1, 7, 'on', 1, 'k', 'pending', 1, 100, 500, 5), \
 (2, 7, 'on', 1, 'k', 'delivered', 2, 200, NULL, 6), \
 (3, 7, 'off', 1, 'k', 'dead', 6, 300, NULL, 7);
INSERT INTO webhook_attempts (delivery_id, event_id, endpoint_id, tenant_id, attempt, \
 started_at, latency_ms, response_excerpt, outcome) VALUES \
 (2, 'ev', 'on', 1, 1, 10, 3, '', 'retry'), (2, 'ev', 'on', 1, 2, 20, 3, '', 'delivered');
";

/// `(id, kind, lane, order_key, subject, state, attempts, due_at, lease_until)`.
type JobLine = (
    i64,
    String,
    String,
    Option<String>,
    i64,
    String,
    i64,
    i64,
    Option<i64>,
);

fn expected_jobs() -> Vec<JobLine> {
    let job = |id, lane: &str, state: &str, attempts, due_at, lease_until| {
        let (kind, key) = ("webhook.delivery".to_owned(), Some("k".to_owned()));
        (
            id,
            kind,
            lane.to_owned(),
            key,
            7,
            state.to_owned(),
            attempts,
            due_at,
            lease_until,
        )
    };
    vec![
        job(1, "on", "pending", 1, 100, Some(500)),
        job(2, "on", "done", 2, 200, None),
        job(3, "off", "dead", 6, 300, None),
    ]
}

const JOBS: &str = "SELECT id, kind, lane, order_key, subject, state, attempts, due_at, \
     lease_until FROM jobs ORDER BY id";
const LANES: &str = "SELECT lane FROM job_lanes WHERE kind = 'webhook.delivery' AND held";
const ATTEMPTS: &str = "SELECT job_id, attempt FROM webhook_attempts ORDER BY id";

fn split(migrator: &Migrator) -> (Vec<&str>, &str) {
    let before = migrator.iter().filter(|m| m.version < 9);
    let jobs = migrator.iter().find(|m| m.version == 9).unwrap();
    (before.map(|m| &*m.sql).collect(), &jobs.sql)
}

#[test]
fn sqlite_moves_deliveries_onto_jobs() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    // As the store's connections run them.
    conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    let (before, jobs) = split(&crate::sqlite::MIGRATOR);
    for sql in before {
        conn.execute_batch(sql).unwrap();
    }
    conn.execute_batch(OUTBOX_BEFORE).unwrap();
    conn.execute_batch(&format!("BEGIN; {jobs} COMMIT;"))
        .unwrap();

    let mut q = conn.prepare(JOBS).unwrap();
    let found: Vec<JobLine> = q
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(found, expected_jobs());
    let held: String = conn.query_row(LANES, [], |r| r.get(0)).unwrap();
    assert_eq!(held, "off");
    let mut q = conn.prepare(ATTEMPTS).unwrap();
    let attempts: Vec<(i64, i64)> = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(attempts, vec![(2, 1), (2, 2)]);
    // New jobs take ids after the copied ones.
    let next: i64 = conn
        .query_row(
            "INSERT INTO jobs (kind, tenant_id, lane, subject, state, attempts, due_at, \
             updated_at) VALUES ('webhook.delivery', 1, 'on', 7, 'pending', 0, 0, 0) RETURNING id",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(next, 4);
}

#[tokio::test]
async fn postgres_moves_deliveries_onto_jobs() {
    use sqlx::Connection as _;
    let Some(db) = crate::testing::TestDatabase::postgres().await else {
        return;
    };
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let (before, jobs) = split(&crate::postgres::MIGRATOR);
    for sql in before {
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }
    sqlx::raw_sql(OUTBOX_BEFORE)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::raw_sql(jobs).execute(&mut conn).await.unwrap();

    let found: Vec<JobLine> = sqlx::query_as(JOBS).fetch_all(&mut conn).await.unwrap();
    assert_eq!(found, expected_jobs());
    let held: String = sqlx::query_scalar(LANES)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(held, "off");
    let attempts: Vec<(i64, i64)> = sqlx::query_as(ATTEMPTS).fetch_all(&mut conn).await.unwrap();
    assert_eq!(attempts, vec![(2, 1), (2, 2)]);
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (kind, tenant_id, lane, subject, state, attempts, due_at, updated_at) \
         VALUES ('webhook.delivery', 1, 'on', 7, 'pending', 0, 0, 0) RETURNING id",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(next, 4);
}

/// Migration 0011: on a freshly migrated database (no statistics yet), the generic plan of
/// the session lookup every inbound message, send and turn makes takes the primary key, not
/// the list index (which walked every session of the tenant).
#[tokio::test]
async fn postgres_looks_sessions_up_by_their_key_on_a_fresh_database() {
    use sqlx::{Connection as _, Executor as _};
    let Some(db) = crate::testing::TestDatabase::postgres().await else {
        return;
    };
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    crate::postgres::MIGRATOR.run(&mut conn).await.unwrap();
    conn.execute("SET plan_cache_mode = force_generic_plan")
        .await
        .unwrap();
    let lookups = [
        (
            "lock",
            "(bigint, text)",
            "SELECT state FROM sessions WHERE tenant_id = $1 AND call_id = $2 FOR UPDATE",
            "(1, 'c1')",
        ),
        (
            "touch",
            "(bigint, text, bigint)",
            "UPDATE sessions SET updated_at = $3 WHERE tenant_id = $1 AND call_id = $2",
            "(1, 'c1', 0)",
        ),
    ];
    for (name, types, sql, args) in lookups {
        conn.execute(format!("PREPARE {name} {types} AS {sql}").as_str())
            .await
            .unwrap();
        let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN EXECUTE {name} {args}"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("sessions_pkey"), "{name}: {plan}");
    }
}
