-- Sessions (`call_id`) between a tenant's channel and an end user, and their messages.
-- Instants are unix milliseconds (BIGINT); `messages.ts` is the message's own `timestamp`
-- in unix seconds, as the wire gives it.
CREATE TABLE sessions (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    call_id     TEXT    NOT NULL,
    channel     TEXT    NOT NULL,
    channel_id  TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    user_name   TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('bot', 'pending_agent', 'agent', 'closed')),
    end_reason  TEXT             CHECK (end_reason IN ('robot', 'agent', 'error', 'expire', 'user')),
    seat_id     TEXT,
    started_at  BIGINT  NOT NULL,
    ended_at    BIGINT,
    updated_at  BIGINT  NOT NULL,
    -- The integrator's report on a closed session, as JSON text.
    report      TEXT,
    PRIMARY KEY (tenant_id, call_id)
);
-- list_sessions: most recently started first, ties by call_id.
CREATE INDEX sessions_tenant_started ON sessions (tenant_id, started_at DESC, call_id DESC);

-- `seq` orders messages and is the cursor behind every list. `body` is the whole wire
-- message as JSON; `status` and `seat_id` are authoritative over the body's copies.
CREATE TABLE messages (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id    INTEGER NOT NULL,
    call_id      TEXT    NOT NULL,
    msg_id       TEXT    NOT NULL,
    sender_type  TEXT    NOT NULL,
    status       TEXT,
    seat_id      TEXT,
    content_type TEXT    NOT NULL,
    ts           BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    body         TEXT    NOT NULL,
    CONSTRAINT messages_msg_id_key UNIQUE (tenant_id, msg_id),
    FOREIGN KEY (tenant_id, call_id) REFERENCES sessions (tenant_id, call_id) ON DELETE CASCADE
);
-- One session's messages in order (list_messages, mark_read).
CREATE INDEX messages_session_seq ON messages (tenant_id, call_id, seq);
-- A tenant's messages across sessions (chat records).
CREATE INDEX messages_tenant_seq ON messages (tenant_id, seq);
