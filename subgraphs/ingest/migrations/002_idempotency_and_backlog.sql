-- The first response to each (tenant, Idempotency-Key), stored in the same
-- transaction as the ledger rows and outbox event it reports on, so a replay
-- can never see a response whose work was rolled back (or the reverse).
-- request_body is kept to tell a client which fields differ on a mismatch.
CREATE TABLE idempotency_keys (
  tenant_id       text        NOT NULL,
  idempotency_key text        NOT NULL,
  request_sha256  text        NOT NULL,
  request_body    jsonb       NOT NULL,
  response_status int         NOT NULL,
  response_body   text        NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, idempotency_key)
);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON idempotency_keys
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
GRANT SELECT, INSERT ON idempotency_keys TO coherence_app;

-- The outbox backlog over all tenants (signals not yet projected), for the
-- ingest_backlog gauge and the Kafka consumer's pause bound. coherence_app
-- cannot see other tenants' rows, so this runs as its owner (the migrating
-- superuser) and returns nothing but the count.
CREATE FUNCTION ingest_outbox_backlog() RETURNS bigint
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
  SELECT coalesce(sum(jsonb_array_length(envelope #> '{payload,signals}')), 0)::bigint
    FROM public.outbox WHERE processed_at IS NULL
$$;
REVOKE ALL ON FUNCTION ingest_outbox_backlog() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_outbox_backlog() TO coherence_app;
