-- One durable job queue under every state machine (docs/architecture.md, "the job queue").
-- Webhook deliveries become jobs of kind 'webhook.delivery': the lane is the endpoint,
-- the order key the event's ordering key, the subject the event's seq. Ids are kept, so
-- the attempt log's rows still name their delivery.

-- `state`: pending (due, leased, or waiting to retry), done, dead. `attempts` counts the
-- claims made; a claim leases the row until `lease_until`. Instants are unix ms.
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT    NOT NULL,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    lane        TEXT    NOT NULL,
    order_key   TEXT,
    subject     BIGINT  NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
    attempts    INTEGER NOT NULL,
    due_at      BIGINT  NOT NULL,
    lease_until BIGINT,
    updated_at  BIGINT  NOT NULL
);
INSERT INTO jobs (id, kind, tenant_id, lane, order_key, subject, state, attempts, due_at,
                  lease_until, updated_at)
    SELECT id, 'webhook.delivery', tenant_id, endpoint_id, ordering_key, event_seq, 'done',
           attempts, next_attempt_at, lease_until, updated_at
    FROM webhook_deliveries WHERE state = 'delivered';
INSERT INTO jobs (id, kind, tenant_id, lane, order_key, subject, state, attempts, due_at,
                  lease_until, updated_at)
    SELECT id, 'webhook.delivery', tenant_id, endpoint_id, ordering_key, event_seq, state,
           attempts, next_attempt_at, lease_until, updated_at
    FROM webhook_deliveries WHERE state <> 'delivered';

-- A lane with a row is held (nothing of it is claimed: a disabled endpoint) or paced
-- (claimable again from `next_at`). A lane without one is neither.
CREATE TABLE job_lanes (
    kind    TEXT    NOT NULL,
    lane    TEXT    NOT NULL,
    held    BOOLEAN NOT NULL,
    next_at BIGINT  NOT NULL,
    PRIMARY KEY (kind, lane)
);
INSERT INTO job_lanes (kind, lane, held, next_at)
    SELECT 'webhook.delivery', id, TRUE, 0 FROM webhook_endpoints WHERE NOT enabled;

-- The attempt log now references the job. SQLite cannot change a foreign key in place:
-- the table is rebuilt (before the old deliveries go, so no cascade reaches it).
CREATE TABLE webhook_attempts_by_job (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id           INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    event_id         TEXT    NOT NULL,
    endpoint_id      TEXT    NOT NULL,
    tenant_id        INTEGER NOT NULL,
    attempt          INTEGER NOT NULL,
    started_at       BIGINT  NOT NULL,
    status_code      INTEGER,
    latency_ms       BIGINT  NOT NULL,
    response_excerpt TEXT    NOT NULL,
    error            TEXT,
    outcome          TEXT    NOT NULL CHECK (outcome IN ('delivered', 'retry', 'dead'))
);
INSERT INTO webhook_attempts_by_job
    SELECT id, delivery_id, event_id, endpoint_id, tenant_id, attempt, started_at,
           status_code, latency_ms, response_excerpt, error, outcome
    FROM webhook_attempts;
DROP TABLE webhook_attempts;
ALTER TABLE webhook_attempts_by_job RENAME TO webhook_attempts;
CREATE INDEX webhook_attempts_event ON webhook_attempts (tenant_id, event_id, id);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, started_at);
DROP TABLE webhook_deliveries;

-- The claim: a kind's due pending jobs, oldest first.
CREATE INDEX jobs_due ON jobs (kind, due_at, id) WHERE state = 'pending';
-- The claim's ordering check: an earlier pending job of the same kind, lane and key. It
-- must be the only index over pending jobs by lane (BENCHMARKS.md, migration 0005).
CREATE INDEX jobs_order ON jobs (kind, lane, order_key, id) WHERE state = 'pending';
-- endpoint_health's settled counts.
CREATE INDEX jobs_lane_settled ON jobs (kind, lane, state) WHERE state <> 'pending';
-- A delivery's event: list_events and replays.
CREATE INDEX jobs_subject ON jobs (kind, subject);
