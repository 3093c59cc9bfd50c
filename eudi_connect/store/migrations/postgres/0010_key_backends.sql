-- Issuer keys by purpose and backend; mirrors migrations/sqlite/0009_key_backends.sql.
ALTER TABLE issuer_keys ADD COLUMN purpose text NOT NULL DEFAULT 'credential';
ALTER TABLE issuer_keys ADD COLUMN backend text NOT NULL DEFAULT 'software';
ALTER TABLE issuer_keys ADD COLUMN key_ref text;
ALTER TABLE issuer_keys ADD COLUMN published_until bigint;

DROP INDEX issuer_keys_one_active;
CREATE UNIQUE INDEX issuer_keys_one_active
    ON issuer_keys (tenant_id, purpose) WHERE retired_at IS NULL;

CREATE TABLE tenant_key_settings (
    tenant_id       text   NOT NULL
        CONSTRAINT tenant_key_settings_tenant_fk REFERENCES tenants (tenant_id),
    purpose         text   NOT NULL,
    backend         text   NOT NULL,
    token           text,
    max_age_seconds bigint CHECK (max_age_seconds > 0),
    updated_at      bigint NOT NULL,
    CONSTRAINT tenant_key_settings_pkey PRIMARY KEY (tenant_id, purpose)
);
