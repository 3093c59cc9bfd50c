-- A tenant's earlier verifier identities, kept after `verifier set-dns-name` replaced
-- them: requests handed out before the change name their client identifier and are
-- signed with their key until `usable_until` (when every such request has expired).
CREATE TABLE retired_verifier_identities (
    tenant_id             TEXT NOT NULL REFERENCES tenants (tenant_id),
    dns_name              TEXT NOT NULL,
    kid                   TEXT NOT NULL,
    private_key_encrypted BYTEA NOT NULL,
    certificate_chain     TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    usable_until          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kid)
);
