-- A tenant's channels (core's `channels::Channel`): a WhatsApp business number, whose
-- webhooks arrive at `/webhooks/whatsapp/{id}`, or a custom channel the integrator
-- carries itself. `kind` is 'whatsapp' or 'custom'; the WhatsApp columns are NULL for a
-- custom channel and `name` for a WhatsApp one. What each column may hold is core's rule
-- (`check_channel_kind`), so the schema checks nothing more. Instants are unix ms.
--
-- The secrets (access_token, app_secret, verify_token) are plain columns, as the tenants'
-- sign_secret and access_secret are: Tiller needs them in the clear to call the Graph API
-- and check webhook signatures. They are never logged and never listed.
CREATE TABLE channels (
    id              TEXT    PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind            TEXT    NOT NULL,
    name            TEXT,
    phone_number_id TEXT,
    waba_id         TEXT,
    display_number  TEXT,
    access_token    TEXT,
    app_secret      TEXT,
    verify_token    TEXT,
    graph_url       TEXT,
    graph_version   TEXT,
    created_at      BIGINT  NOT NULL
);
-- A webhook names only the number (`metadata.phone_number_id`), so a number belongs to one
-- channel in the whole store, whichever tenant holds it.
CREATE UNIQUE INDEX channels_phone_number_id_key ON channels (phone_number_id)
    WHERE phone_number_id IS NOT NULL;
-- A tenant's list, oldest first.
CREATE INDEX channels_tenant ON channels (tenant_id, created_at);
