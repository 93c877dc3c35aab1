-- Tenants (companies) and their credentials. Instants are unix milliseconds (BIGINT)
-- in both dialects, so row mapping is shared.
CREATE TABLE tenants (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL,
    company         TEXT    NOT NULL UNIQUE,
    app_key         TEXT    NOT NULL UNIQUE,
    app_secret_hash TEXT    NOT NULL,
    sign_key        TEXT    NOT NULL UNIQUE,
    sign_secret     TEXT    NOT NULL,
    access_key      TEXT    NOT NULL UNIQUE,
    access_secret   TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL
);

-- Tokens of the `/service/cloud/auth` API; one is valid per tenant at a time.
CREATE TABLE api_tokens (
    token       TEXT    PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    issued_at   BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX api_tokens_tenant_expiry ON api_tokens (tenant_id, expires_at);
