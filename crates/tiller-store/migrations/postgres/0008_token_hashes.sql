-- API tokens are no longer kept at rest: a row holds the token's SHA-256 (to resolve a
-- presented token) and the nonce it was derived from with the tenant's app secret (to
-- hand the same token back to the holder of that secret). Tokens issued before this
-- migration were stored in clear; they are dropped, and their holders authenticate again
-- (POST /service/cloud/auth), as they do every 24 hours.
DROP TABLE api_tokens;
CREATE TABLE api_tokens (
    token_hash  TEXT    PRIMARY KEY,
    nonce       TEXT    NOT NULL,
    tenant_id   BIGINT  NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    issued_at   BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX api_tokens_tenant_expiry ON api_tokens (tenant_id, expires_at);
