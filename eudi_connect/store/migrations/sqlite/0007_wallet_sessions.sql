-- OpenID4VCI state that every instance shares: credential offers, DPoP-bound access
-- tokens, c_nonces, one-time values (DPoP and wallet attestation PoP jti) and the holder
-- keys an offer has issued to. Secrets that are only compared are stored as SHA-256.
CREATE TABLE credential_offers (
    offer_id              TEXT NOT NULL PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants (tenant_id),
    request_id            TEXT,
    state                 TEXT NOT NULL,
    items                 TEXT NOT NULL,
    subject               TEXT,
    deferred              INTEGER NOT NULL,
    max_copies            INTEGER NOT NULL,
    validity_seconds      INTEGER,
    offer_json            TEXT NOT NULL,
    code_hash             BLOB NOT NULL UNIQUE,
    tx_code               TEXT,
    tx_code_attempts_left INTEGER NOT NULL,
    created_at            INTEGER NOT NULL,
    expires_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    version               INTEGER NOT NULL,
    credential_ids        TEXT NOT NULL,
    copies_issued         TEXT NOT NULL,
    failure_reason        TEXT NOT NULL,
    transaction_id        TEXT UNIQUE,
    notification_id       TEXT UNIQUE,
    deferred_request      TEXT
) STRICT;
CREATE UNIQUE INDEX credential_offers_request ON credential_offers (tenant_id, request_id)
    WHERE request_id IS NOT NULL;

CREATE TABLE access_tokens (
    token_hash BLOB NOT NULL PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    offer_id   TEXT NOT NULL REFERENCES credential_offers (offer_id),
    dpop_jkt   TEXT NOT NULL,
    client_id  TEXT,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);

CREATE TABLE wallet_nonces (
    nonce_hash BLOB NOT NULL PRIMARY KEY,
    tenant_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX wallet_nonces_expiry ON wallet_nonces (expires_at);

CREATE TABLE wallet_once (
    tenant_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    value      TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, scope, value)
) STRICT, WITHOUT ROWID;
CREATE INDEX wallet_once_expiry ON wallet_once (expires_at);

CREATE TABLE offer_proof_keys (
    offer_id  TEXT NOT NULL REFERENCES credential_offers (offer_id),
    key_thumb TEXT NOT NULL,
    PRIMARY KEY (offer_id, key_thumb)
) STRICT, WITHOUT ROWID;
