-- OpenID4VP verifier state that every instance shares: each tenant's verifier identity
-- (key encrypted with the master key, certificate chain as JSON base64 DER, leaf first)
-- and its presentation transactions, from the request to the verified result.
CREATE TABLE verifier_identities (
    tenant_id             TEXT NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    dns_name              TEXT NOT NULL,
    kid                   TEXT NOT NULL,
    private_key_encrypted BYTEA NOT NULL,
    certificate_chain     TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);

CREATE TABLE presentation_transactions (
    transaction_id     TEXT NOT NULL PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants (tenant_id),
    request_id         TEXT,
    state              TEXT NOT NULL,
    client_id          TEXT NOT NULL,
    response_mode      TEXT NOT NULL,
    dcql_query         TEXT NOT NULL,
    nonce              TEXT NOT NULL,
    state_value        TEXT,
    response_uri       TEXT,
    request_uri        TEXT,
    request_uri_method TEXT NOT NULL,
    redirect_uri       TEXT,
    expected_origins   TEXT NOT NULL,
    transaction_data   TEXT NOT NULL,
    policy             TEXT NOT NULL,
    encryption_key     BYTEA,
    enc_values         TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    version            BIGINT NOT NULL,
    results            TEXT NOT NULL,
    failure_reason     TEXT NOT NULL,
    failure_detail     TEXT NOT NULL,
    response_code      TEXT
);
CREATE UNIQUE INDEX presentation_transactions_request
    ON presentation_transactions (tenant_id, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX presentation_transactions_expiry ON presentation_transactions (expires_at);
