-- `npm run graph:rebuild` (docs/runbooks/graph-rebuild.md): rebuilds Neo4j
-- and then the read model from the signal ledger, the one durable copy of
-- every accepted signal. It connects as its own role, rebuild_app
-- (docs/adr/0015-service-roles.md): it is the only role that reads every
-- tenant's ledger rows whole; the relay never reads the ledger.

-- Roles are cluster-wide: the same lock as ingest 005, for the same reason.
LOCK TABLE pg_catalog.pg_authid IN SHARE ROW EXCLUSIVE MODE;
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rebuild_app') THEN
    CREATE ROLE rebuild_app LOGIN;
  END IF;
  ALTER ROLE rebuild_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
END
$$;

-- Where a rebuild stopped, per tenant: the ledger key of the last signal it
-- projected. A rebuild that crashed or was stopped resumes after it; a
-- finished tenant is rebuilt from the start by the next run.
CREATE TABLE graph_rebuild_progress (
  tenant_id      text        PRIMARY KEY,
  after_source   text,
  after_signal_id text,
  after_ts       timestamptz,
  signals        bigint      NOT NULL DEFAULT 0,
  started_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz
);
REVOKE ALL ON graph_rebuild_progress FROM PUBLIC;
CALL coherence_tenant_rls('graph_rebuild_progress', ARRAY[]::text[]);
GRANT SELECT, INSERT, UPDATE, DELETE ON graph_rebuild_progress TO rebuild_app;
CALL coherence_all_tenants_rls('graph_rebuild_progress', 'rebuild_app', ARRAY['ALL']);

-- Every tenant's ledger, read only.
GRANT SELECT ON signal_ledger TO rebuild_app;
CALL coherence_all_tenants_rls('signal_ledger', 'rebuild_app', ARRAY['SELECT']);

-- The read model as the relay writes it: one tenant at a time (setTenant),
-- the change recorded in the score history for the relay's sweep to publish.
CALL coherence_tenant_rls('coherence_scores', ARRAY['coherence_app', 'relay_app', 'rebuild_app']);
GRANT SELECT, INSERT, UPDATE ON coherence_scores TO rebuild_app;
GRANT SELECT, INSERT ON coherence_score_history TO rebuild_app;
GRANT USAGE ON SEQUENCE coherence_score_history_id_seq TO rebuild_app;
-- ALL: an INSERT policy cannot have the USING clause the helper writes; the grant above limits it.
CALL coherence_all_tenants_rls('coherence_score_history', 'rebuild_app', ARRAY['ALL']);
