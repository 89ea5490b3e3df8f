-- A tenant's score in one round trip. Reading it took four (BEGIN, set the
-- tenant, SELECT, COMMIT) because the row-level security of coherence_scores
-- keys on a transaction-local setting; a function sets it and reads in one
-- statement, whose implicit transaction the setting does not outlive. It is
-- SECURITY INVOKER: row-level security and the caller's grants apply as
-- before, and it can only read what its caller could read by setting the
-- tenant itself.
CREATE FUNCTION coherence_read_score(p_tenant_id text)
  RETURNS TABLE (tenant_id text, score double precision, status text, agreement double precision, window_iso text,
                 sources jsonb, as_of text, updated_at text)
  LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, public
AS $$
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant_id, true);
  RETURN QUERY
    SELECT s.tenant_id, s.score, s.status, s.agreement, s.window_iso, s.sources,
           to_json(s.as_of) #>> '{}', to_json(s.updated_at) #>> '{}'
      FROM coherence_scores s
     WHERE s.tenant_id = p_tenant_id;
END
$$;
REVOKE ALL ON FUNCTION coherence_read_score(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION coherence_read_score(text) TO coherence_app;
