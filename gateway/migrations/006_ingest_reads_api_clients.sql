-- Ingest checks a producer token's client_id against the tenant's API
-- clients as the gateway does (docs/adr/0031-tenant-administration.md):
-- it reads them, for the token's tenant only (row-level security).
CALL coherence_tenant_rls('api_clients', ARRAY['gateway_app', 'comms_admin', 'ingest_app']);
GRANT SELECT ON api_clients TO ingest_app;
