-- Webhooks: endpoints and their signing secrets, the outbox of events, one delivery per
-- (event, endpoint) and the log of attempts. Instants are unix milliseconds (BIGINT).

-- `seq` orders a tenant's endpoints (oldest first); `id` (32 hex) is what the API shows.
-- `event_types` is a JSON array of the types delivered here, NULL for every type.
-- `failing_since` starts the current run of failed attempts; any success clears it.
CREATE TABLE webhook_endpoints (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url             TEXT    NOT NULL,
    event_types     TEXT,
    enabled         BOOLEAN NOT NULL,
    encryption_key  TEXT,
    failing_since   BIGINT,
    disabled_reason TEXT,
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, seq);

-- Signing secrets, newest first by `seq`. A secret is active while `expires_at` is NULL
-- or later than now; during a rotation the older ones keep signing until they expire.
CREATE TABLE webhook_secrets (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id TEXT    NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    secret      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT
);
CREATE INDEX webhook_secrets_endpoint ON webhook_secrets (endpoint_id, seq);

-- The outbox: events written in the transaction of the change that caused them.
-- `event_id` is stable across attempts and replays; `payload` and `on_outcome` (the
-- messages whose status follows the delivery) are JSON text.
CREATE TABLE webhook_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id     TEXT    NOT NULL,
    tenant_id    INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    event_type   TEXT    NOT NULL,
    ordering_key TEXT,
    payload      TEXT    NOT NULL,
    on_outcome   TEXT,
    created_at   BIGINT  NOT NULL,
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);
-- list_events: a tenant's events, newest first, within a window.
CREATE INDEX webhook_events_tenant_created ON webhook_events (tenant_id, created_at, seq);

-- One delivery per (event, endpoint); `id` order is event order. `attempts` counts the
-- claims made (a claim increments it); a claim leases the row until `lease_until`.
-- `ordering_key` is the event's, copied so the claim's ordering check reads one table.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq       INTEGER NOT NULL REFERENCES webhook_events (seq) ON DELETE CASCADE,
    endpoint_id     TEXT    NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    tenant_id       INTEGER NOT NULL,
    ordering_key    TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL,
    next_attempt_at BIGINT  NOT NULL,
    lease_until     BIGINT,
    updated_at      BIGINT  NOT NULL
);
-- The claim: due pending deliveries, oldest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at, id)
    WHERE state = 'pending';
-- The claim's ordering check: an earlier pending delivery of the same key and endpoint.
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, ordering_key, id)
    WHERE state = 'pending';
-- endpoint_health counts; list_events and replays by event.
CREATE INDEX webhook_deliveries_endpoint_state ON webhook_deliveries (endpoint_id, state);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_seq);

-- Every attempt, kept after the delivery ends. `outcome` is `delivered`, `retry` or `dead`.
CREATE TABLE webhook_attempts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id      INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
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
CREATE INDEX webhook_attempts_event ON webhook_attempts (tenant_id, event_id, id);
-- endpoint_health: the latest attempt per endpoint.
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, started_at);
