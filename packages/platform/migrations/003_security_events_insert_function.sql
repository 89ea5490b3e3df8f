-- A batch of security events of many tenants in one round trip, as
-- policy_decisions_insert does for decisions (gateway migration 008): the
-- tenant set and its rows inserted per tenant, in one statement. SECURITY
-- INVOKER: row-level security and the caller's grants apply as before.
CREATE FUNCTION security_events_insert(
  p_tenant_id text[], p_kind text[], p_service text[], p_subject text[], p_client_id text[], p_reason text[],
  p_source_ip text[], p_correlation_id text[], p_details jsonb[])
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, public
AS $$
DECLARE
  v_tenant text;
BEGIN
  FOR v_tenant IN SELECT DISTINCT t FROM unnest(p_tenant_id) AS t LOOP
    PERFORM set_config('app.tenant_id', v_tenant, true);
    INSERT INTO security_events (tenant_id, kind, service, subject, client_id, reason, source_ip, correlation_id, details)
    SELECT r.*
      FROM unnest(p_tenant_id, p_kind, p_service, p_subject, p_client_id, p_reason, p_source_ip, p_correlation_id, p_details)
           AS r(tenant_id, kind, service, subject, client_id, reason, source_ip, correlation_id, details)
     WHERE r.tenant_id = v_tenant;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION security_events_insert FROM PUBLIC;
GRANT EXECUTE ON FUNCTION security_events_insert TO ingest_app, gateway_app, comms_app;
