-- Initial schema of the PostgreSQL store; the same tables, keys and indexes as
-- migrations/sqlite/0001_initial.sql. Times are unix seconds (bigint).
-- Constraints are named: the store maps a violated constraint, by name, to a domain error.
-- `seq` columns stand in for SQLite's rowid where rows are ordered by age.

-- Small process-wide settings, e.g. the master key check value.
CREATE TABLE meta (
    key   text  CONSTRAINT meta_pkey PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE tenants (
    tenant_id  text   CONSTRAINT tenants_pkey PRIMARY KEY,
    name       text   NOT NULL,
    created_at bigint NOT NULL
);

-- API keys are looked up by key_id on every request; only a hash of the secret is kept.
CREATE TABLE api_keys (
    key_id      text   CONSTRAINT api_keys_pkey PRIMARY KEY,
    tenant_id   text   NOT NULL CONSTRAINT api_keys_tenant_fk REFERENCES tenants (tenant_id),
    secret_hash bytea  NOT NULL,
    created_at  bigint NOT NULL
);

CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);

-- Retired keys stay so that credentials signed with them keep verifying.
CREATE TABLE issuer_keys (
    kid                   text   CONSTRAINT issuer_keys_pkey PRIMARY KEY,
    seq                   bigint GENERATED ALWAYS AS IDENTITY,
    tenant_id             text   NOT NULL
        CONSTRAINT issuer_keys_tenant_fk REFERENCES tenants (tenant_id),
    private_key_encrypted bytea  NOT NULL,
    public_jwk            text   NOT NULL,
    created_at            bigint NOT NULL,
    retired_at            bigint
);

-- At most one active (not retired) key per tenant, enforced by the database; concurrent
-- first uses on several instances meet here (INSERT ... ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX issuer_keys_one_active ON issuer_keys (tenant_id) WHERE retired_at IS NULL;

CREATE INDEX issuer_keys_by_tenant ON issuer_keys (tenant_id, created_at, seq);

-- A list hands out positions 0..size-1 in order; the permutation of a position is the
-- status index, so indices look random but never repeat.
CREATE TABLE status_lists (
    status_list_id  text     CONSTRAINT status_lists_pkey PRIMARY KEY,
    seq             bigint   GENERATED ALWAYS AS IDENTITY,
    tenant_id       text     NOT NULL
        CONSTRAINT status_lists_tenant_fk REFERENCES tenants (tenant_id),
    size            integer  NOT NULL CONSTRAINT status_lists_size_check CHECK (size > 0),
    bits            smallint NOT NULL CONSTRAINT status_lists_bits_check CHECK (bits IN (1, 2, 4, 8)),
    permutation_key bytea    NOT NULL,
    next_position   integer  NOT NULL
        CONSTRAINT status_lists_position_check CHECK (next_position BETWEEN 0 AND size),
    version         bigint   NOT NULL DEFAULT 0,
    created_at      bigint   NOT NULL,
    -- Target of the credentials' (status_list_id, tenant_id) reference below.
    CONSTRAINT status_lists_tenant_key UNIQUE (status_list_id, tenant_id)
);

-- The tenant's lists that still have free positions, oldest first; full lists drop out.
CREATE INDEX status_lists_open ON status_lists (tenant_id, created_at, seq)
    WHERE next_position < size;

CREATE TABLE credentials (
    credential_id     text     CONSTRAINT credentials_pkey PRIMARY KEY,
    tenant_id         text     NOT NULL
        CONSTRAINT credentials_tenant_fk REFERENCES tenants (tenant_id),
    request_id        text,
    template_id       text     NOT NULL,
    format            text     NOT NULL,
    credential        text     NOT NULL,
    status_list_id    text     NOT NULL,
    status_index      integer  NOT NULL CONSTRAINT credentials_index_check CHECK (status_index >= 0),
    issued_at         bigint   NOT NULL,
    expires_at        bigint   NOT NULL,
    status            smallint NOT NULL DEFAULT 0,
    status_updated_at bigint,
    -- A credential only points into a list of its own tenant.
    CONSTRAINT credentials_status_list_fk FOREIGN KEY (status_list_id, tenant_id)
        REFERENCES status_lists (status_list_id, tenant_id),
    -- Idempotent issuance, across every instance; NULL request ids never collide.
    CONSTRAINT credentials_one_per_request UNIQUE (tenant_id, request_id),
    -- An index is never handed out twice.
    CONSTRAINT credentials_one_per_index UNIQUE (status_list_id, status_index)
);

-- Rendering a status list reads only the entries that are not VALID (0); new credentials
-- are VALID, so issuing does not touch this index.
CREATE INDEX credentials_not_valid ON credentials (status_list_id, status_index, status)
    WHERE status <> 0;

-- Audit trail of every status change.
CREATE TABLE status_events (
    event_id      bigint   GENERATED ALWAYS AS IDENTITY CONSTRAINT status_events_pkey PRIMARY KEY,
    credential_id text     NOT NULL
        CONSTRAINT status_events_credential_fk REFERENCES credentials (credential_id),
    from_status   smallint NOT NULL,
    to_status     smallint NOT NULL,
    reason        text     NOT NULL,
    at            bigint   NOT NULL
);

CREATE INDEX status_events_by_credential ON status_events (credential_id, at);
