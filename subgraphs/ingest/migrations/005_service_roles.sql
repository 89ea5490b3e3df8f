-- One role per process (docs/adr/0015-service-roles.md). Until now every
-- service connected as coherence_app and the relay as coherence_relay
-- (BYPASSRLS); here each process gets its own role, and each service's
-- migration of this release (ingest 005, platform 002, gateway 003,
-- coherence 004, comms 006) revokes the old grants on its tables, grants
-- each role exactly what its queries need, and re-creates the policies TO
-- those roles. This first one of them also creates the roles and the RLS
-- helpers the others use.
--
-- Roles are cluster-wide, and several databases of one cluster may be
-- migrated at the same time (the test kit's, several deploy jobs); the
-- migrator's advisory lock is per database. pg_authid is a shared catalog, so
-- its lock is cluster-wide: held to the end of this run, it makes a
-- concurrent migrator of another database wait here and then find the roles
-- (CREATE ROLE racing CREATE ROLE fails on pg_authid's unique index).
LOCK TABLE pg_catalog.pg_authid IN SHARE ROW EXCLUSIVE MODE;

DO $$
DECLARE
  role text;
BEGIN
  FOREACH role IN ARRAY ARRAY['ingest_app', 'relay_app', 'coherence_app', 'comms_app', 'gateway_app', 'retention_app', 'comms_admin'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role) THEN
      EXECUTE format('CREATE ROLE %I LOGIN', role);
    END IF;
    -- Whatever an existing role was given by hand: no service role bypasses
    -- row-level security or owns anything beyond its grants.
    EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS', role);
  END LOOP;
END
$$;

-- relay_app replaces it; it keeps no right in this database (below and in the
-- other sets' migrations) and can no longer log in. Not dropped: another
-- database of the cluster may still grant it something.
ALTER ROLE coherence_relay NOLOGIN NOBYPASSRLS;

-- The boilerplate every table repeated: row-level security, forced (the
-- owner too), with the one policy that scopes a row to the transaction's
-- `app.tenant_id` (setTenant in packages/platform), for the roles listed
-- only (none: no role reads the table one tenant at a time). Re-running it
-- replaces the policy, so the role list is always whole.
CREATE PROCEDURE coherence_tenant_rls(tbl regclass, roles text[])
  LANGUAGE plpgsql SET search_path = pg_catalog, public
AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
  EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
  EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
  IF cardinality(roles) > 0 THEN
    EXECUTE format(
      $p$CREATE POLICY tenant_isolation ON %s TO %s
        USING (tenant_id = current_setting('app.tenant_id', true))
        WITH CHECK (tenant_id = current_setting('app.tenant_id', true))$p$,
      tbl, (SELECT string_agg(quote_ident(r), ', ') FROM unnest(roles) AS r));
  END IF;
END
$$;

-- The exceptions, named so that each stays visible: `role` sees every
-- tenant's rows of `tbl` for each of `commands` (ALL, SELECT, DELETE, …):
-- the relay drains every tenant's outbox, retention deletes across tenants.
CREATE PROCEDURE coherence_all_tenants_rls(tbl regclass, role text, commands text[])
  LANGUAGE plpgsql SET search_path = pg_catalog, public
AS $$
DECLARE
  command text;
BEGIN
  FOREACH command IN ARRAY commands LOOP
    EXECUTE format('CREATE POLICY %I ON %s FOR %s TO %I USING (true)', format('%s_all_tenants_%s', role, lower(command)), tbl, command, role)
      || CASE WHEN command IN ('ALL', 'UPDATE') THEN ' WITH CHECK (true)' ELSE '' END;
  END LOOP;
END
$$;
REVOKE ALL ON PROCEDURE coherence_tenant_rls(regclass, text[]), coherence_all_tenants_rls(regclass, text, text[]) FROM PUBLIC;

-- Ingest's tables.
REVOKE ALL ON signal_ledger, outbox, ingest_counters, idempotency_keys FROM PUBLIC, coherence_app, coherence_relay;
REVOKE ALL ON SEQUENCE outbox_id_seq FROM PUBLIC, coherence_app;
REVOKE ALL ON FUNCTION ingest_outbox_backlog(), ingest_expire_idempotency_keys(interval, int), ingest_store_signals(text, jsonb, jsonb)
  FROM PUBLIC, coherence_app;

CALL coherence_tenant_rls('signal_ledger', ARRAY['ingest_app']);
CALL coherence_tenant_rls('outbox', ARRAY['ingest_app']);
CALL coherence_tenant_rls('ingest_counters', ARRAY['ingest_app']);
CALL coherence_tenant_rls('idempotency_keys', ARRAY['ingest_app']);

-- ingest: the write path (ingest_store_signals, SECURITY INVOKER), the
-- idempotency records (upserted), its stats (ledger, pending outbox, counters).
GRANT SELECT, INSERT ON signal_ledger, outbox TO ingest_app;
GRANT SELECT, INSERT, UPDATE ON ingest_counters, idempotency_keys TO ingest_app;
GRANT USAGE ON SEQUENCE outbox_id_seq TO ingest_app;
GRANT EXECUTE ON FUNCTION ingest_outbox_backlog(), ingest_expire_idempotency_keys(interval, int), ingest_store_signals(text, jsonb, jsonb)
  TO ingest_app;

-- relay: claims, marks, retries and quarantines every tenant's events; a
-- quarantined event goes back with its own id, so no sequence. It never
-- reads the ledger: the events carry the signals.
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO relay_app;
CALL coherence_all_tenants_rls('outbox', 'relay_app', ARRAY['ALL']);

-- retention: what a row's age and open work are told by, and DELETE.
GRANT SELECT (ctid, tenant_id, ts), DELETE ON signal_ledger TO retention_app;
GRANT SELECT (ctid, tenant_id, processed_at), DELETE ON outbox TO retention_app;
CALL coherence_all_tenants_rls('signal_ledger', 'retention_app', ARRAY['SELECT', 'DELETE']);
CALL coherence_all_tenants_rls('outbox', 'retention_app', ARRAY['SELECT', 'DELETE']);
