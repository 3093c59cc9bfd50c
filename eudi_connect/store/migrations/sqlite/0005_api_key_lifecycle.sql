-- The lifecycle of API keys: a tenant holds several, each with a label, an optional
-- expiry, a revocation time (the row stays, so a revoked key is reported as revoked, not
-- as unknown, and its id is never reused) and a coarse last-use time (written at most
-- about once a minute per key and instance, never once per call). Keys made before this
-- migration get the empty label and never expire.
ALTER TABLE api_keys ADD COLUMN label TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
