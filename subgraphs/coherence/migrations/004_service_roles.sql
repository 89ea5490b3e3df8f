-- Per-service roles (ingest 005, docs/adr/0015-service-roles.md).
REVOKE ALL ON coherence_scores, coherence_score_history, outbox_quarantine FROM PUBLIC, coherence_app, coherence_relay;
REVOKE ALL ON SEQUENCE coherence_score_history_id_seq FROM PUBLIC, coherence_relay;

-- The coherence subgraph reads one tenant's score; nothing else.
CALL coherence_tenant_rls('coherence_scores', ARRAY['coherence_app', 'relay_app']);
GRANT SELECT ON coherence_scores TO coherence_app;

-- The relay upserts a tenant's score under that tenant, records the change
-- in the same transaction and sweeps every tenant's unpublished changes;
-- it moves events between the outbox (ingest 005) and its quarantine.
GRANT SELECT, INSERT, UPDATE ON coherence_scores, coherence_score_history TO relay_app;
GRANT USAGE ON SEQUENCE coherence_score_history_id_seq TO relay_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox_quarantine TO relay_app;
CALL coherence_tenant_rls('coherence_score_history', ARRAY[]::text[]);
CALL coherence_tenant_rls('outbox_quarantine', ARRAY[]::text[]);
CALL coherence_all_tenants_rls('coherence_score_history', 'relay_app', ARRAY['ALL']);
CALL coherence_all_tenants_rls('outbox_quarantine', 'relay_app', ARRAY['ALL']);

GRANT SELECT (ctid, tenant_id, changed_at, published_at), DELETE ON coherence_score_history TO retention_app;
CALL coherence_all_tenants_rls('coherence_score_history', 'retention_app', ARRAY['SELECT', 'DELETE']);
