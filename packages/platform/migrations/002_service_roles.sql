-- Per-service roles (ingest 005, docs/adr/0015-service-roles.md). Security
-- events are append-only for the services that record them; none reads them.
REVOKE ALL ON security_events FROM PUBLIC, coherence_app;
REVOKE ALL ON SEQUENCE security_events_id_seq FROM PUBLIC, coherence_app;
CALL coherence_tenant_rls('security_events', ARRAY['ingest_app', 'gateway_app', 'comms_app']);
GRANT INSERT ON security_events TO ingest_app, gateway_app, comms_app;
GRANT USAGE ON SEQUENCE security_events_id_seq TO ingest_app, gateway_app, comms_app;

GRANT SELECT (ctid, tenant_id, occurred_at), DELETE ON security_events TO retention_app;
CALL coherence_all_tenants_rls('security_events', 'retention_app', ARRAY['SELECT', 'DELETE']);
