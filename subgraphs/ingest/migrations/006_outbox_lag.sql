-- The age of the oldest outbox event not yet projected, over all tenants, for
-- the ingest_outbox_lag_seconds gauge. The relay exports the same age, but
-- the outbox-lag alert must go on seeing it while the relay is down, which is
-- when it matters (docs/adr/0021-prometheus-rules-and-slos.md). ingest_app
-- cannot see other tenants' rows, so this runs as its owner, like
-- ingest_outbox_backlog(), and returns nothing but the age.
CREATE FUNCTION ingest_outbox_lag_seconds() RETURNS double precision
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
  SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
    FROM public.outbox WHERE processed_at IS NULL
$$;
REVOKE ALL ON FUNCTION ingest_outbox_lag_seconds() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ingest_outbox_lag_seconds() TO ingest_app;
