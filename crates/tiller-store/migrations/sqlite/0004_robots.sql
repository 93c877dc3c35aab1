-- Robots (dialogue flows and external Rasa-style robots) and each session's dialogue.
-- A robot's definition never changes once stored: a session finishes on the flow it
-- started with, and a new version of a flow is a new robot.
CREATE TABLE robots (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('flow', 'rasa')),
    -- The definition as uploaded (YAML or JSON text).
    definition  TEXT    NOT NULL,
    -- 32 hex; the `<flow>` part of interactive option ids.
    flow_id     TEXT    NOT NULL,
    is_default  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX robots_tenant ON robots (tenant_id, id);
-- At most one default robot per tenant.
CREATE UNIQUE INDEX robots_tenant_default ON robots (tenant_id) WHERE is_default;

-- `robot_id`: the robot answering the session (NULL: none, the session only records).
-- `robot_state`: the dialogue (JSON). `answered_seq`: the last user message the robot has
-- handled. `turn_due`: set while user messages wait for a robot turn; the turn lease
-- (`turn_lease`, `turn_lease_until`) keeps two workers from running turns of one session
-- at once. `state_version` grows with every state change, for compare-and-set updates.
ALTER TABLE sessions ADD COLUMN robot_id BIGINT;
ALTER TABLE sessions ADD COLUMN robot_state TEXT;
ALTER TABLE sessions ADD COLUMN answered_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN turn_due BIGINT;
ALTER TABLE sessions ADD COLUMN turn_lease TEXT;
ALTER TABLE sessions ADD COLUMN turn_lease_until BIGINT;
ALTER TABLE sessions ADD COLUMN state_version BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sessions_turn_due ON sessions (turn_due) WHERE turn_due IS NOT NULL;
-- Expiry: open sessions by last activity.
CREATE INDEX sessions_open_updated ON sessions (updated_at) WHERE state <> 'closed';
