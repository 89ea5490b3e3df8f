-- Tenant administration (docs/adr/0031-tenant-administration.md). Tenants
-- were rows an operator inserted with SQL; from here they are written by the
-- tenant-admin API only, as comms_admin (the role comms 006 created for it),
-- one tenant per transaction (RLS as everywhere), each change with its audit
-- row in the same transaction and a NOTIFY on `tenant_changed` that the
-- gateways and ingest listen to (delivered only if the change commits).

-- What the admin API sets that the table lacked. `region`: the region that
-- serves the tenant (null: its residency). `rate_share`: its share of
-- ingest's rate, as `weight` is of the gateway's (null: 1). `budget_units`:
-- the cost-model units (docs/slo.md) it may spend a month (null: no budget).
-- `suspended_at`: set while it is suspended; every read, write and
-- subscription of a suspended tenant is refused with TENANT_SUSPENDED.
ALTER TABLE tenants
  ADD COLUMN name         text        NOT NULL DEFAULT '' CHECK (char_length(name) <= 200),
  ADD COLUMN region       text        CHECK (region ~ '^[a-z][a-z0-9-]*$'),
  ADD COLUMN rate_share   numeric     CHECK (rate_share > 0),
  ADD COLUMN budget_units bigint      CHECK (budget_units >= 0),
  ADD COLUMN suspended_at timestamptz,
  ADD COLUMN updated_at   timestamptz NOT NULL DEFAULT now();

-- Who changed what: one row per change, append-only (no UPDATE or DELETE
-- grant). `actor` is the admin token's subject; `before`/`after` are the
-- changed object as the API shows it (null before a creation, after a removal).
CREATE TABLE tenant_audit (
  audit_id    bigserial   PRIMARY KEY,
  tenant_id   text        NOT NULL,
  actor       text        NOT NULL,
  action      text        NOT NULL,
  before      jsonb,
  after       jsonb,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  CHECK (before IS NOT NULL OR after IS NOT NULL)
);
CREATE INDEX tenant_audit_tenant ON tenant_audit (tenant_id, audit_id);

-- API clients: a token's `client_id` claim must name an enabled client of
-- the token's tenant, and every scope the token asks for must be one of the
-- client's (docs/adr/0031-tenant-administration.md).
CREATE TABLE api_clients (
  tenant_id  text        NOT NULL REFERENCES tenants (tenant_id),
  client_id  text        NOT NULL CHECK (client_id ~ '^[A-Za-z0-9._:-]{1,128}$'),
  scopes     text[]      NOT NULL,
  enabled    boolean     NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, client_id)
);

REVOKE ALL ON tenant_audit, api_clients FROM PUBLIC, coherence_app;
REVOKE ALL ON SEQUENCE tenant_audit_audit_id_seq FROM PUBLIC, coherence_app;
CALL coherence_tenant_rls('tenants', ARRAY['gateway_app', 'ingest_app', 'comms_admin']);
CALL coherence_tenant_rls('tenant_audit', ARRAY['comms_admin']);
CALL coherence_tenant_rls('api_clients', ARRAY['gateway_app', 'comms_admin']);

GRANT SELECT, INSERT, UPDATE ON tenants TO comms_admin;
GRANT SELECT, INSERT ON tenant_audit TO comms_admin;
GRANT USAGE ON SEQUENCE tenant_audit_audit_id_seq TO comms_admin;
GRANT SELECT, INSERT, UPDATE ON api_clients TO comms_admin;
GRANT SELECT ON api_clients TO gateway_app;
