-- What a tenant's verifications trust; mirrors migrations/sqlite/0004_trust.sql. One
-- table for both kinds ('issuer': entry_id the `iss`; 'anchor': entry_id the hex SHA-256
-- of the certificate), documents kept verbatim as JSON text. entry_id uses the "C"
-- collation so lists order bytewise, as Python orders str.
CREATE TABLE trust_entries (
    tenant_id  text   NOT NULL CONSTRAINT trust_entries_tenant_fk REFERENCES tenants (tenant_id),
    kind       text   NOT NULL
        CONSTRAINT trust_entries_kind_check CHECK (kind IN ('issuer', 'anchor')),
    entry_id   text   COLLATE "C" NOT NULL,
    created_at bigint NOT NULL,
    document   text   NOT NULL,
    CONSTRAINT trust_entries_pkey PRIMARY KEY (tenant_id, kind, entry_id)
);
