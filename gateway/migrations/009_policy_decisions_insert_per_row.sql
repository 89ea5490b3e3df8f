-- policy_decisions_insert (migration 008) read the whole batch again for
-- every tenant in it: quadratic in the tenants of a batch. When every row is
-- another tenant's (reads spread over many tenants, the usual case), a batch
-- of 200 took Postgres 48 ms against 3 ms for one tenant's 200. Each
-- tenant's rows are now found by position in one pass and inserted by
-- subscript: 7 ms for 200 tenants' rows. Same arguments, same grants,
-- SECURITY INVOKER as before: row-level security checks every row against
-- the tenant set for it.
CREATE OR REPLACE FUNCTION policy_decisions_insert(
  p_decision_id uuid[], p_tenant_id text[], p_subject text[], p_client_id text[], p_operation_id text[],
  p_operation_type text[], p_allow boolean[], p_reason_code text[], p_explanation text[], p_bundle_sha256 text[],
  p_correlation_id text[], p_decided_at timestamptz[], p_input jsonb[], p_shadow_bundle_sha256 text[],
  p_shadow_allow boolean[], p_shadow_reason_code text[], p_region text)
  RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, public
AS $$
DECLARE
  v_tenant text;
  v_rows bigint[];
BEGIN
  FOR v_tenant, v_rows IN SELECT t, array_agg(i) FROM unnest(p_tenant_id) WITH ORDINALITY AS u(t, i) GROUP BY t LOOP
    PERFORM set_config('app.tenant_id', v_tenant, true);
    INSERT INTO policy_decisions (decision_id, tenant_id, subject, client_id, operation_id, operation_type, allow,
      reason_code, explanation, bundle_sha256, correlation_id, decided_at, input, shadow_bundle_sha256, shadow_allow,
      shadow_reason_code, region)
    SELECT p_decision_id[i], p_tenant_id[i], p_subject[i], p_client_id[i], p_operation_id[i], p_operation_type[i],
           p_allow[i], p_reason_code[i], p_explanation[i], p_bundle_sha256[i], p_correlation_id[i], p_decided_at[i],
           p_input[i], p_shadow_bundle_sha256[i], p_shadow_allow[i], p_shadow_reason_code[i], p_region
      FROM unnest(v_rows) AS i;
  END LOOP;
END
$$;
