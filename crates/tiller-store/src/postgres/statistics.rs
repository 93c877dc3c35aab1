//! Planner statistics for a young database. Each pooled connection keeps its prepared
//! statements, and PostgreSQL keeps the generic plan it made for one after five runs until
//! the table's statistics change. On a fresh database that plan is made for empty tables
//! (a sequential scan costs nothing there), and it stays while the table fills, until
//! autovacuum first analyzes it (up to `autovacuum_naptime`, a minute by default): a robot
//! turn's read of the new user messages slowed from 35 µs to over 600 µs on average in the
//! first seconds of a benchmark (BENCHMARKS.md, session 8). So a node analyzes each hot
//! table that was never analyzed once it holds a few hundred rows, which invalidates those
//! plans; after that, autovacuum keeps the statistics.

use std::{collections::HashSet, sync::Weak, time::Duration};

use sqlx::PgPool;

/// The tables the hot paths look up by index.
const TABLES: &[&str] = &[
    "messages",
    "sessions",
    "jobs",
    "webhook_events",
    "webhook_attempts",
];
/// Rows written since the table was created before it is worth analyzing.
const ROWS: i64 = 200;
const CHECK_EVERY: Duration = Duration::from_secs(2);
/// After this many checks (ten minutes) autovacuum has long had its turn: stop watching
/// tables that never fill (no webhooks, say).
const CHECKS: u32 = 300;

/// Watches the tables until each was analyzed once, for at most [`CHECKS`] checks, or until
/// the store is dropped (`alive` no longer upgrades). Each table is analyzed at most once
/// by this node: a role that may not analyze it gets one warning from PostgreSQL, not one
/// every check.
pub(super) fn keep<T: Send + Sync + 'static>(pool: PgPool, alive: Weak<T>) {
    tokio::spawn(async move {
        let mut tried = HashSet::new();
        for _ in 0..CHECKS {
            tokio::time::sleep(CHECK_EVERY).await;
            if alive.upgrade().is_none() {
                return;
            }
            match analyze_young_tables(&pool, &mut tried).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => tracing::debug!(error = %e, "checking planner statistics"),
            }
        }
    });
}

/// Analyzes the tables never analyzed that hold enough rows; whether every table has now
/// been analyzed.
async fn analyze_young_tables(pool: &PgPool, tried: &mut HashSet<String>) -> sqlx::Result<bool> {
    let tables: Vec<(String, bool, i64)> = sqlx::query_as(
        "SELECT relname::text, last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL, \
         n_mod_since_analyze FROM pg_stat_user_tables \
         WHERE schemaname = current_schema() AND relname = ANY($1)",
    )
    .bind(TABLES)
    .fetch_all(pool)
    .await?;
    let mut all = tables.len() == TABLES.len();
    for (table, analyzed, written) in tables {
        if analyzed {
            continue;
        }
        all = false;
        if written >= ROWS && TABLES.contains(&table.as_str()) && tried.insert(table.clone()) {
            // The name is one of ours, not input.
            sqlx::query(&format!("ANALYZE {table}"))
                .execute(pool)
                .await?;
            tracing::debug!(table, rows = written, "analyzed a young table");
        }
    }
    Ok(all)
}
