-- A batch of policy decisions of many tenants in one round trip. Row-level
-- security checks each row against a transaction-local setting, so the
-- batch writer set the tenant and inserted once per tenant of a batch: two
-- statements per read when every read is another tenant's (the gateway's
-- audit was most of the cost of a read spread over 1,000 tenants). This
-- function does the same per tenant, in one statement. SECURITY INVOKER:
-- row-level security and the caller's grants apply as before.
CREATE FUNCTION policy_decisions_insert(
  p_decision_id uuid[], p_tenant_id text[], p_subject text[], p_client_id text[], p_operation_id text[],
  p_operation_type text[], p_allow boolean[], p_reason_code text[], p_explanation text[], p_bundle_sha256 text[],
  p_correlation_id text[], p_decided_at timestamptz[], p_input jsonb[], p_shadow_bundle_sha256 text[],
  p_shadow_allow boolean[], p_shadow_reason_code text[], p_region text)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, public
AS $$
DECLARE
  v_tenant text;
BEGIN
  FOR v_tenant IN SELECT DISTINCT t FROM unnest(p_tenant_id) AS t LOOP
    PERFORM set_config('app.tenant_id', v_tenant, true);
    INSERT INTO policy_decisions (decision_id, tenant_id, subject, client_id, operation_id, operation_type, allow,
      reason_code, explanation, bundle_sha256, correlation_id, decided_at, input, shadow_bundle_sha256, shadow_allow,
      shadow_reason_code, region)
    SELECT r.*, p_region
      FROM unnest(p_decision_id, p_tenant_id, p_subject, p_client_id, p_operation_id, p_operation_type, p_allow,
                  p_reason_code, p_explanation, p_bundle_sha256, p_correlation_id, p_decided_at, p_input,
                  p_shadow_bundle_sha256, p_shadow_allow, p_shadow_reason_code)
           AS r(decision_id, tenant_id, subject, client_id, operation_id, operation_type, allow, reason_code,
                explanation, bundle_sha256, correlation_id, decided_at, input, shadow_bundle_sha256, shadow_allow,
                shadow_reason_code)
     WHERE r.tenant_id = v_tenant;
  END LOOP;
END
$$;
REVOKE ALL ON FUNCTION policy_decisions_insert FROM PUBLIC;
GRANT EXECUTE ON FUNCTION policy_decisions_insert TO gateway_app, ingest_app;
