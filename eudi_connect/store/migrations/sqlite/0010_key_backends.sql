-- Issuer keys by purpose and backend. A tenant has one active key per purpose
-- ('credential' signs credentials, 'status' signs status list tokens); a key lives in
-- the software backend (private_key_encrypted, under the master key) or in a PKCS#11
-- token (key_ref: where, as JSON, never the PIN; private_key_encrypted stays empty).
-- A retired key stays in the JWKS until published_until (NULL: not yet known, so kept).
ALTER TABLE issuer_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'credential';
ALTER TABLE issuer_keys ADD COLUMN backend TEXT NOT NULL DEFAULT 'software';
ALTER TABLE issuer_keys ADD COLUMN key_ref TEXT;
ALTER TABLE issuer_keys ADD COLUMN published_until INTEGER;

DROP INDEX issuer_keys_one_active;
CREATE UNIQUE INDEX issuer_keys_one_active
    ON issuer_keys (tenant_id, purpose) WHERE retired_at IS NULL;

-- Where a tenant's new keys of a purpose are made, and how old its active key may grow
-- before the service rotates it (NULL: only by hand). token: the PKCS#11 token, as JSON
-- (module, token label or slot, PIN file or PIN variable name, key label).
CREATE TABLE tenant_key_settings (
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id),
    purpose         TEXT NOT NULL,
    backend         TEXT NOT NULL,
    token           TEXT,
    max_age_seconds INTEGER CHECK (max_age_seconds > 0),
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, purpose)
) STRICT;
