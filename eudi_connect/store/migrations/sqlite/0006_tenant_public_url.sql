-- The public URL a tenant's credentials name (the base of their `iss` and of their status
-- list URIs). NULL until the tenant's first issuer key or credential is made; then fixed,
-- so a server started later with another --public-url keeps every credential verifying.
ALTER TABLE tenants ADD COLUMN public_url TEXT;
