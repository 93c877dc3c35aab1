-- A session is looked up by its primary key (tenant_id, call_id) on every inbound message,
-- agent send and robot turn. On a table without statistics yet (a fresh database, before
-- autovacuum's first ANALYZE) PostgreSQL costed `sessions_tenant_started` the same for
-- those lookups and took it, walking every session of the tenant to match `call_id`: the
-- plan stays cached on each pooled connection until statistics arrive (BENCHMARKS.md,
-- session 7). The list index is now partial on a predicate only list_sessions states
-- (`started_at IS NOT NULL`, always true), so no other query can pick it.
DROP INDEX sessions_tenant_started;
CREATE INDEX sessions_tenant_started ON sessions (tenant_id, started_at DESC, call_id DESC)
    WHERE started_at IS NOT NULL;
