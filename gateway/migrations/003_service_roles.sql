-- Per-service roles (ingest 005, docs/adr/0015-service-roles.md). The
-- gateway and ingest's write policy read a tenant's row (residency, weight)
-- and append their policy decisions; neither reads decisions back.
REVOKE ALL ON tenants, policy_decisions FROM PUBLIC, coherence_app;
CALL coherence_tenant_rls('tenants', ARRAY['gateway_app', 'ingest_app']);
CALL coherence_tenant_rls('policy_decisions', ARRAY['gateway_app', 'ingest_app']);
GRANT SELECT ON tenants TO gateway_app, ingest_app;
GRANT INSERT ON policy_decisions TO gateway_app, ingest_app;

GRANT SELECT (ctid, tenant_id, decided_at), DELETE ON policy_decisions TO retention_app;
CALL coherence_all_tenants_rls('policy_decisions', 'retention_app', ARRAY['SELECT', 'DELETE']);
