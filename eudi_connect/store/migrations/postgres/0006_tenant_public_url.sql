-- The public URL a tenant's credentials name; mirrors
-- migrations/sqlite/0006_tenant_public_url.sql (NULL until first used, then fixed).
ALTER TABLE tenants ADD COLUMN public_url text;
