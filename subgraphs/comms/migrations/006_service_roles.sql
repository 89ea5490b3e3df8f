-- Per-service roles (ingest 005, docs/adr/0015-service-roles.md): comms
-- connects as comms_app, both its subgraph and its worker.

-- Operator access, redone. It was a setting any session could give itself
-- (`app.comms_operator`), and it opened every comms table of every tenant.
-- Now only comms_app can widen its view, only through
-- comms_operator_access(region), only to the tenants residing in that region,
-- and only to the commands, their audit trail and the inbound messages, for
-- the rest of the calling transaction. The function records the grant here,
-- in a table comms_app can neither read nor write; the policies below ask
-- comms_operator_region(), which finds the grant of this backend's current
-- transaction (a transaction id is never reused, so a grant dies with its
-- transaction, committed or not). The region comes from the gateway's
-- verified internal token (operator API) or the worker's COMMS_REGION; the
-- database cannot check that signature itself, see the ADR.
-- UNLOGGED: a grant lives as long as one transaction, a crash loses nothing
-- that matters, and the worker's poll should not write WAL.
CREATE UNLOGGED TABLE comms_operator_grants (
  backend_pid int  PRIMARY KEY,
  xact_id     xid8 NOT NULL,
  region      text NOT NULL CHECK (region ~ '^[a-z][a-z0-9-]*$')
);
REVOKE ALL ON comms_operator_grants FROM PUBLIC;

CREATE FUNCTION comms_operator_access(region text) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
  INSERT INTO public.comms_operator_grants (backend_pid, xact_id, region)
  VALUES (pg_backend_pid(), pg_current_xact_id(), region)
  ON CONFLICT (backend_pid) DO UPDATE SET xact_id = EXCLUDED.xact_id, region = EXCLUDED.region
$$;

-- NULL outside a transaction that called comms_operator_access: the operator
-- policies then match nothing. A transaction without a transaction id (a
-- read that never called it) does not even read the table.
CREATE FUNCTION comms_operator_region() RETURNS text
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
  xact xid8 := pg_current_xact_id_if_assigned();
BEGIN
  IF xact IS NULL THEN
    RETURN NULL;
  END IF;
  RETURN (SELECT g.region FROM public.comms_operator_grants g WHERE g.backend_pid = pg_backend_pid() AND g.xact_id = xact);
END
$$;

-- The tenants residing in the granted region, none without a grant: the
-- policies below ask once per statement, and a statement scoped to one
-- tenant (no grant) costs one lookup, not a scan of `tenants`.
CREATE FUNCTION comms_operator_tenants() RETURNS SETOF text
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
DECLARE
  granted text := public.comms_operator_region();
BEGIN
  IF granted IS NOT NULL THEN
    RETURN QUERY SELECT t.tenant_id FROM public.tenants t WHERE t.residency = granted;
  END IF;
END
$$;
REVOKE ALL ON FUNCTION comms_operator_access(text), comms_operator_region(), comms_operator_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION comms_operator_access(text), comms_operator_region(), comms_operator_tenants() TO comms_app;

DROP POLICY comms_operator ON tenants;
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['dispatch_commands', 'dispatch_audit', 'comms_deliveries', 'comms_contacts', 'comms_quiet_hours',
                           'comms_policy_decisions', 'comms_envelopes'] LOOP
    EXECUTE format('DROP POLICY comms_operator ON %I', t);
    EXECUTE format('REVOKE ALL ON %I FROM PUBLIC, coherence_app', t);
  END LOOP;
END
$$;
REVOKE ALL ON SEQUENCE dispatch_audit_audit_id_seq, comms_deliveries_delivery_id_seq FROM PUBLIC, coherence_app;
REVOKE ALL ON FUNCTION comms_changes_since(timestamptz, int) FROM PUBLIC, coherence_app;

CALL coherence_tenant_rls('dispatch_commands', ARRAY['comms_app']);
CALL coherence_tenant_rls('dispatch_audit', ARRAY['comms_app']);
CALL coherence_tenant_rls('comms_deliveries', ARRAY['comms_app']);
CALL coherence_tenant_rls('comms_contacts', ARRAY['comms_app', 'comms_admin']);
CALL coherence_tenant_rls('comms_quiet_hours', ARRAY['comms_app', 'comms_admin']);
CALL coherence_tenant_rls('comms_policy_decisions', ARRAY['comms_app']);
CALL coherence_tenant_rls('comms_envelopes', ARRAY['comms_app']);

CREATE POLICY comms_operator ON tenants FOR SELECT TO comms_app USING (residency = comms_operator_region());
CREATE POLICY comms_operator ON dispatch_commands TO comms_app
  USING (tenant_id IN (SELECT comms_operator_tenants()))
  WITH CHECK (tenant_id IN (SELECT comms_operator_tenants()));
CREATE POLICY comms_operator ON dispatch_audit TO comms_app
  USING (tenant_id IN (SELECT comms_operator_tenants()))
  WITH CHECK (tenant_id IN (SELECT comms_operator_tenants()));
CREATE POLICY comms_operator ON comms_envelopes FOR SELECT TO comms_app
  USING (tenant_id IN (SELECT comms_operator_tenants()));

-- The bus (send, claim, lease, transition, audit), deliveries, quiet-hours
-- decisions, inbound messages, the catch-up read of score changes; contacts
-- and quiet hours are read only. Their writer is comms_admin, the role of
-- the tenant-admin API to come (issue 20): no process connects as it today.
GRANT SELECT, INSERT, UPDATE ON dispatch_commands TO comms_app;
GRANT SELECT, INSERT ON dispatch_audit, comms_envelopes TO comms_app;
GRANT INSERT ON comms_deliveries, comms_policy_decisions TO comms_app;
GRANT USAGE ON SEQUENCE dispatch_audit_audit_id_seq, comms_deliveries_delivery_id_seq TO comms_app;
GRANT SELECT ON comms_contacts, comms_quiet_hours, tenants TO comms_app;
GRANT EXECUTE ON FUNCTION comms_changes_since(timestamptz, int) TO comms_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON comms_contacts, comms_quiet_hours TO comms_admin;

-- Retention removes finished commands (their audit rows and deliveries go
-- by the foreign keys' cascade, which runs as the tables' owner), quiet-hours
-- decisions and inbound messages.
GRANT SELECT (ctid, tenant_id, created_at, state), DELETE ON dispatch_commands TO retention_app;
GRANT SELECT (ctid, tenant_id, decided_at), DELETE ON comms_policy_decisions TO retention_app;
GRANT SELECT (ctid, tenant_id, received_at), DELETE ON comms_envelopes TO retention_app;
CALL coherence_all_tenants_rls('dispatch_commands', 'retention_app', ARRAY['SELECT', 'DELETE']);
CALL coherence_all_tenants_rls('comms_policy_decisions', 'retention_app', ARRAY['SELECT', 'DELETE']);
CALL coherence_all_tenants_rls('comms_envelopes', 'retention_app', ARRAY['SELECT', 'DELETE']);
