-- Initial schema of the embedded SQLite store.
-- Times are unix seconds (INTEGER). STRICT tables reject values of the wrong type.

-- Small process-wide settings, e.g. the master key check value.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE tenants (
    tenant_id  TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- API keys are looked up by key_id on every request; only a hash of the secret is kept.
CREATE TABLE api_keys (
    key_id      TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    secret_hash BLOB NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);

-- Retired keys stay so that credentials signed with them keep verifying.
CREATE TABLE issuer_keys (
    kid                   TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants (tenant_id),
    private_key_encrypted BLOB NOT NULL,
    public_jwk            TEXT NOT NULL,
    created_at            INTEGER NOT NULL,
    retired_at            INTEGER
) STRICT;

-- At most one active (not retired) key per tenant, enforced by the database.
CREATE UNIQUE INDEX issuer_keys_one_active ON issuer_keys (tenant_id) WHERE retired_at IS NULL;

CREATE INDEX issuer_keys_by_tenant ON issuer_keys (tenant_id, created_at);

-- A list hands out positions 0..size-1 in order; the permutation of a position is the
-- status index, so indices look random but never repeat.
CREATE TABLE status_lists (
    status_list_id  TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (tenant_id),
    size            INTEGER NOT NULL CHECK (size > 0),
    bits            INTEGER NOT NULL CHECK (bits IN (1, 2, 4, 8)),
    permutation_key BLOB NOT NULL,
    next_position   INTEGER NOT NULL CHECK (next_position BETWEEN 0 AND size),
    version         INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    -- Target of the credentials' (status_list_id, tenant_id) reference below.
    UNIQUE (status_list_id, tenant_id)
) STRICT;

-- The tenant's lists that still have free positions, oldest first; full lists drop out.
CREATE INDEX status_lists_open ON status_lists (tenant_id, created_at) WHERE next_position < size;

CREATE TABLE credentials (
    credential_id     TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (tenant_id),
    request_id        TEXT,
    template_id       TEXT NOT NULL,
    format            TEXT NOT NULL,
    credential        TEXT NOT NULL,
    status_list_id    TEXT NOT NULL,
    status_index      INTEGER NOT NULL CHECK (status_index >= 0),
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    status            INTEGER NOT NULL DEFAULT 0,
    status_updated_at INTEGER,
    -- A credential only points into a list of its own tenant.
    FOREIGN KEY (status_list_id, tenant_id) REFERENCES status_lists (status_list_id, tenant_id),
    -- Idempotent issuance; NULL request ids do not collide with each other.
    UNIQUE (tenant_id, request_id),
    -- An index is never handed out twice.
    UNIQUE (status_list_id, status_index)
) STRICT;

-- Rendering a status list reads only the entries that are not VALID (0); new credentials
-- are VALID, so issuing does not touch this index.
CREATE INDEX credentials_not_valid ON credentials (status_list_id, status_index, status)
    WHERE status <> 0;

-- Audit trail of every status change.
CREATE TABLE status_events (
    event_id      INTEGER PRIMARY KEY,
    credential_id TEXT NOT NULL REFERENCES credentials (credential_id),
    from_status   INTEGER NOT NULL,
    to_status     INTEGER NOT NULL,
    reason        TEXT NOT NULL,
    at            INTEGER NOT NULL
) STRICT;

CREATE INDEX status_events_by_credential ON status_events (credential_id, at);
