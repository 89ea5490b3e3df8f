-- Group commit (docs/adr/0029-ingest-group-commit.md): concurrent HTTP pushes
-- without an Idempotency-Key are coalesced for a few milliseconds and stored
-- in ONE transaction and round trip, each push still through
-- ingest_store_signals (its tenant for row-level security, its ledger rows,
-- counters and outbox event), so a push's meaning is the same alone or in a
-- group. Returns how many signals of each push were new, in the order given.
-- The caller orders the pushes by tenant, so that concurrent groups take the
-- per-tenant counter rows in one order; when a group fails anyway (a deadlock
-- over keys two producers push at once, or one push Postgres refuses), the
-- caller stores each of its pushes alone.
CREATE FUNCTION ingest_store_signal_groups(pushes jsonb) RETURNS int[]
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public SET app.tenant_id = ''
AS $$
DECLARE
  push jsonb;
  stored int[] := '{}';
BEGIN
  FOR push IN SELECT value FROM jsonb_array_elements(pushes) LOOP
    stored := stored || public.ingest_store_signals(push ->> 'tenant', push -> 'signals', push -> 'header');
  END LOOP;
  RETURN stored;
END
$$;
REVOKE ALL ON FUNCTION ingest_store_signal_groups(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_store_signal_groups(jsonb) TO ingest_app;
