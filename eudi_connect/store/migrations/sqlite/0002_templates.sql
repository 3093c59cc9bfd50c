-- Tenant templates (credential and notification); built-ins live in code, never here.
-- `definition` is the kind's JSON document. `version` starts at 1 and goes up on every
-- update and on deletion: a deleted template stays as a tombstone (deleted_at set) so that
-- creating the same id again continues its version, and (tenant, template, version), the
-- key of every render cache and etag, never names two different contents.
-- The small columns come first, so reading the version never walks a large definition's
-- overflow pages.
CREATE TABLE templates (
    tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
    template_id TEXT NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    deleted_at  INTEGER,
    kind        TEXT NOT NULL CHECK (kind IN ('credential', 'notification')),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    description TEXT NOT NULL,
    definition  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, template_id)
) STRICT, WITHOUT ROWID;

-- The issuance hot path asks for the live version of one template on every request: this
-- covering index answers without reading the row.
CREATE INDEX templates_live ON templates (tenant_id, template_id, version)
    WHERE deleted_at IS NULL;
