-- CoherenceChanged reaches the comms worker over Redis pub/sub, which keeps
-- nothing for a subscriber that is not connected. The relay also records
-- every change in coherence_score_history (coherence migration 002), so a
-- worker that starts, or whose subscription comes back, replays the recent
-- changes from there through the same idempotent listener: a change it had
-- already handled creates nothing (the command's idempotency key is the
-- message id plus the contact). Reading across tenants needs the owner's
-- rights; this function returns only the messages, oldest first.
CREATE FUNCTION comms_changes_since(since timestamptz, max_rows int) RETURNS SETOF jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
AS $$
  SELECT message FROM public.coherence_score_history WHERE changed_at >= since ORDER BY id LIMIT max_rows
$$;
REVOKE ALL ON FUNCTION comms_changes_since(timestamptz, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION comms_changes_since(timestamptz, int) TO coherence_app;
