-- Idempotency records are kept for INGEST_IDEMPOTENCY_TTL_HOURS only (they
-- hold whole request bodies). An expired key is safe to forget: a retry
-- after it is stored again and its signals count as deduped by the ledger key.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Expiry runs over all tenants, which coherence_app cannot see, so it runs
-- as its owner; it deletes at most max_rows per call and returns how many.
CREATE FUNCTION ingest_expire_idempotency_keys(max_age interval, max_rows int) RETURNS bigint
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
  WITH expired AS (
    DELETE FROM public.idempotency_keys
     WHERE ctid IN (SELECT ctid FROM public.idempotency_keys WHERE created_at < now() - max_age LIMIT max_rows)
    RETURNING 1
  )
  SELECT count(*) FROM expired
$$;
REVOKE ALL ON FUNCTION ingest_expire_idempotency_keys(interval, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_expire_idempotency_keys(interval, int) TO coherence_app;
GRANT UPDATE ON idempotency_keys TO coherence_app;
