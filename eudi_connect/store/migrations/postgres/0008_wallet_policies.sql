-- What each tenant asks of wallets (OpenID4VCI): wallet and key attestations, accepted
-- key storage and user authentication levels, trusted wallet providers. One JSON
-- document per tenant; a tenant without a row asks for nothing.
CREATE TABLE wallet_policies (
    tenant_id  TEXT NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    document   TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- c_nonces are stateless until used (an HMAC of their time, checked without a lookup) and
-- recorded once in wallet_once when a proof uses them: the open Nonce Endpoint writes
-- nothing, so no client can grow the store through it.
DROP TABLE wallet_nonces;

-- The keys an offer issued to, by credential configuration: counting them in the same
-- transaction that claims new ones is what holds an offer to its copies when requests
-- race (on any number of instances).
ALTER TABLE offer_proof_keys ADD COLUMN configuration_id TEXT NOT NULL DEFAULT '';
