-- A tenant can be disabled (`tiller tenant disable`): while `disabled_at` (unix ms) is
-- set, its credentials are refused. Additive: nodes not yet upgraded ignore the column.
ALTER TABLE tenants ADD COLUMN disabled_at BIGINT;
