-- Tenant templates (credential and notification); mirrors migrations/sqlite/0002_templates.sql.
-- `version` starts at 1 and goes up on every update and on deletion: a deleted template
-- stays as a tombstone (deleted_at set), so creating the same id again continues its
-- version and (tenant, template, version) never names two different contents.
-- template_id uses the "C" collation: pages are ordered bytewise, as Python orders str,
-- whatever the database's default collation.
CREATE TABLE templates (
    tenant_id   text   NOT NULL CONSTRAINT templates_tenant_fk REFERENCES tenants (tenant_id),
    template_id text   COLLATE "C" NOT NULL,
    version     bigint NOT NULL CONSTRAINT templates_version_check CHECK (version >= 1),
    deleted_at  bigint,
    kind        text   NOT NULL
        CONSTRAINT templates_kind_check CHECK (kind IN ('credential', 'notification')),
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL,
    description text   NOT NULL,
    definition  text   NOT NULL,
    CONSTRAINT templates_pkey PRIMARY KEY (tenant_id, template_id)
);

-- The issuance hot path asks for the live version of one template on every request: this
-- covering index answers without reading the row.
CREATE INDEX templates_live ON templates (tenant_id, template_id, version)
    WHERE deleted_at IS NULL;
