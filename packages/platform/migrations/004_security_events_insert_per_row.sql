-- security_events_insert (migration 003) read the whole batch again for
-- every tenant in it, as policy_decisions_insert did (gateway migration
-- 009): quadratic in the tenants of a batch, and a flood of refusals naming
-- made-up tenants is exactly a batch of many tenants. Each tenant's rows are
-- now found by position in one pass. Same arguments, same grants, SECURITY
-- INVOKER as before.
CREATE OR REPLACE FUNCTION security_events_insert(
  p_tenant_id text[], p_kind text[], p_service text[], p_subject text[], p_client_id text[], p_reason text[],
  p_source_ip text[], p_correlation_id text[], p_details jsonb[])
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, public
AS $$
DECLARE
  v_tenant text;
  v_rows bigint[];
BEGIN
  FOR v_tenant, v_rows IN SELECT t, array_agg(i) FROM unnest(p_tenant_id) WITH ORDINALITY AS u(t, i) GROUP BY t LOOP
    PERFORM set_config('app.tenant_id', v_tenant, true);
    INSERT INTO security_events (tenant_id, kind, service, subject, client_id, reason, source_ip, correlation_id, details)
    SELECT p_tenant_id[i], p_kind[i], p_service[i], p_subject[i], p_client_id[i], p_reason[i], p_source_ip[i],
           p_correlation_id[i], p_details[i]
      FROM unnest(v_rows) AS i;
  END LOOP;
END
$$;
