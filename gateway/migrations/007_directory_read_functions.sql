-- A tenant's row and an API client's row in one round trip each, as the
-- coherence read model reads a score (coherence 006): the row-level
-- security of both tables keys on a transaction-local setting, so a read
-- took four (BEGIN, set the tenant, SELECT, COMMIT). Each function sets it
-- and reads in one statement, whose implicit transaction the setting does
-- not outlive. SECURITY INVOKER: row-level security and the caller's grants
-- apply as before; a caller reads only what it could by setting the tenant
-- itself.
CREATE FUNCTION gateway_read_tenant(p_tenant_id text)
  RETURNS TABLE (residency text, weight numeric, cache_ttl_seconds integer, suspended boolean)
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, public
AS $$
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant_id, true);
  RETURN QUERY
    SELECT t.residency, t.weight, t.cache_ttl_seconds, t.suspended_at IS NOT NULL
      FROM tenants t
     WHERE t.tenant_id = p_tenant_id;
END
$$;
REVOKE ALL ON FUNCTION gateway_read_tenant(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gateway_read_tenant(text) TO gateway_app, ingest_app;

CREATE FUNCTION gateway_read_api_client(p_tenant_id text, p_client_id text)
  RETURNS TABLE (scopes text[], enabled boolean)
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, public
AS $$
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant_id, true);
  RETURN QUERY
    SELECT c.scopes, c.enabled
      FROM api_clients c
     WHERE c.tenant_id = p_tenant_id AND c.client_id = p_client_id;
END
$$;
REVOKE ALL ON FUNCTION gateway_read_api_client(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gateway_read_api_client(text, text) TO gateway_app, ingest_app;
