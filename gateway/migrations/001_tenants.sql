-- Tenants the platform serves: residency (the region their data may be read
-- in; the gateway's policy denies other regions), rate-limit weight and cache
-- TTL override. A tenant without a row is refused by the gateway (fail
-- closed: its residency is unknown). Operators insert rows as the migration
-- owner; services only read them.
CREATE TABLE tenants (
  tenant_id         text        PRIMARY KEY,
  residency         text        NOT NULL CHECK (residency ~ '^[a-z][a-z0-9-]*$'),
  weight            numeric     NOT NULL DEFAULT 1 CHECK (weight > 0),
  cache_ttl_seconds integer     CHECK (cache_ttl_seconds > 0),
  created_at        timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
  USING (tenant_id = current_setting('app.tenant_id', true));

GRANT SELECT ON tenants TO coherence_app;
