-- What a tenant's verifications trust besides its own credentials: foreign issuers (kind
-- 'issuer', entry_id the `iss`, document {"jwks": {...}} or {"jwks_uri": "..."}) and X.509
-- trust anchors (kind 'anchor', entry_id the hex SHA-256 of the DER, document
-- {"certificate": <base64 DER>, "subject": ..., "not_after": ...}). The services own the
-- documents' layout; the store keeps them verbatim. A tenant has a handful of entries and
-- reads them all at once, so one table keyed by tenant serves both kinds.
CREATE TABLE trust_entries (
    tenant_id  TEXT NOT NULL REFERENCES tenants (tenant_id),
    kind       TEXT NOT NULL CHECK (kind IN ('issuer', 'anchor')),
    entry_id   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    document   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, kind, entry_id)
) STRICT, WITHOUT ROWID;
