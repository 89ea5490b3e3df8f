-- The write path's statement as a function, so that storing one tenant's
-- signals is ONE round trip: the tenant is set for row-level security, the
-- ledger rows, the running counters and the outbox event are written, all
-- in the implicit transaction of one statement. Called on its own (a
-- single-tenant batch without Idempotency-Key) or inside the caller's
-- transaction (several tenants, the idempotency record, a consumer slice).
-- Before, the same work took BEGIN, set_config, the statement and COMMIT:
-- four round trips per request on the hottest path (docs/adr/0003).
--
-- SECURITY INVOKER: row-level security applies to the caller (coherence_app)
-- as for the plain statement. The SET clause pins search_path, and also
-- restores app.tenant_id when the function returns.
CREATE FUNCTION ingest_store_signals(tenant text, signals jsonb, header jsonb) RETURNS int
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, public SET app.tenant_id = ''
AS $$
DECLARE
  stored int;
BEGIN
  PERFORM set_config('app.tenant_id', tenant, true);
  -- RETURNING gives exactly the newly stored rows (in-batch repeats and
  -- earlier copies are not returned), so the event carries those only, with
  -- ts as Postgres normalised it; no event is written when nothing was new.
  WITH inserted AS (
    INSERT INTO signal_ledger (tenant_id, source, signal_id, ts, type, value, weight, provenance)
    SELECT tenant, r.source, r."signalId", r.ts, r.type, r.value, r.weight, r.provenance
      FROM jsonb_to_recordset(signals)
        AS r(source text, "signalId" text, ts timestamptz, type text, value float8, weight float8, provenance jsonb)
    ON CONFLICT DO NOTHING
    RETURNING source, signal_id, ts, type, value, weight, provenance, received_at
  ), counted AS (
    INSERT INTO ingest_counters (tenant_id, accepted, deduped)
    SELECT tenant, count(*), jsonb_array_length(signals) - count(*) FROM inserted
    ON CONFLICT (tenant_id) DO UPDATE
      SET accepted = ingest_counters.accepted + EXCLUDED.accepted, deduped = ingest_counters.deduped + EXCLUDED.deduped
  ), event AS (
    INSERT INTO outbox (tenant_id, message_id, type, envelope)
    SELECT tenant, (header ->> 'messageId')::uuid, header ->> 'type',
           header || jsonb_build_object('payload', jsonb_build_object('signals', jsonb_agg(jsonb_build_object(
             'tenantId', tenant, 'source', i.source, 'signalId', i.signal_id, 'ts', to_json(i.ts) #>> '{}',
             'type', i.type, 'value', i.value, 'weight', i.weight, 'provenance', i.provenance,
             'receivedAt', to_json(i.received_at) #>> '{}'))))
      FROM inserted i
    HAVING count(*) > 0
  )
  SELECT count(*)::int INTO stored FROM inserted;
  RETURN stored;
END
$$;
REVOKE ALL ON FUNCTION ingest_store_signals(text, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_store_signals(text, jsonb, jsonb) TO coherence_app;
