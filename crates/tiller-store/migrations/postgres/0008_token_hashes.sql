-- API tokens are no longer kept at rest: a row holds the token's SHA-256 (to resolve a
-- presented token) and the nonce it was derived from with the tenant's app secret (to
-- hand the same token back to the holder of that secret).
--
-- Additive, for a rolling upgrade on several nodes: the new table stands beside the old
-- one, whose clear tokens are deleted (their holders get 401 and authenticate again, as
-- they do every 24 hours). Nodes not yet upgraded keep working against the emptied old
-- table; a later migration drops it once no node reads it.
CREATE TABLE api_token_hashes (
    token_hash  TEXT    PRIMARY KEY,
    nonce       TEXT    NOT NULL,
    tenant_id   BIGINT  NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    issued_at   BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX api_token_hashes_tenant_expiry ON api_token_hashes (tenant_id, expires_at);
DELETE FROM api_tokens;
