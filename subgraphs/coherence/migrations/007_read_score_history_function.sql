-- A page of a tenant's score history (coherence_score_history), newest first,
-- in one round trip, for the Query.tenantCoherenceHistory field. Like
-- coherence_read_score (006) it sets the tenant for row-level security and
-- reads in one statement, SECURITY INVOKER: it can only read what its caller
-- could read by setting the tenant itself. p_before is the id of the oldest
-- row of the previous page (NULL for the newest page); the index
-- coherence_score_history_tenant (tenant_id, id) serves the scan.
CREATE FUNCTION coherence_read_score_history(p_tenant_id text, p_before bigint, p_limit integer)
  RETURNS TABLE (id text, score double precision, status text, changed_at text)
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, public
AS $$
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant_id, true);
  RETURN QUERY
    SELECT h.id::text, h.score, h.status, to_json(h.changed_at) #>> '{}'
      FROM coherence_score_history h
     WHERE h.tenant_id = p_tenant_id AND (p_before IS NULL OR h.id < p_before)
     ORDER BY h.id DESC
     LIMIT p_limit;
END
$$;
REVOKE ALL ON FUNCTION coherence_read_score_history(text, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coherence_read_score_history(text, bigint, integer) TO coherence_app;

-- The subgraph reads one tenant's changes (the columns a point needs, not the
-- published message) under the same tenant isolation as its score. The
-- relay, rebuild and retention keep their all-tenants policies (004, 005).
GRANT SELECT (id, tenant_id, score, status, changed_at) ON coherence_score_history TO coherence_app;
CALL coherence_tenant_rls('coherence_score_history', ARRAY['coherence_app']);
