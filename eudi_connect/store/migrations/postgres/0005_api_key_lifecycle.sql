-- The lifecycle of API keys; mirrors migrations/sqlite/0005_api_key_lifecycle.sql:
-- several keys per tenant, a label, an optional expiry, a revocation time (the row stays)
-- and a coarse last-use time (written at most about once a minute per key and instance).
ALTER TABLE api_keys ADD COLUMN label text NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN expires_at bigint;
ALTER TABLE api_keys ADD COLUMN revoked_at bigint;
ALTER TABLE api_keys ADD COLUMN last_used_at bigint;
