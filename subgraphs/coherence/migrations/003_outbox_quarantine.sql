-- Failure isolation in the relay (docs/adr/0008). An outbox event that fails
-- on its own is retried with backoff, then moved out of the outbox into
-- outbox_quarantine, so one poison pill never holds up the events after it.
-- Runs after every ingest migration (the test kit and the stack migrate
-- ingest first), so the outbox and the roles exist.

-- The retry state of a pending event. relay_error (001) holds the last failure.
-- relay_available_at: when the event may be claimed again (NULL: since it was
-- written); the stall check also reads it as "waiting since".
ALTER TABLE outbox
  ADD COLUMN relay_attempts        int NOT NULL DEFAULT 0,
  ADD COLUMN relay_first_failed_at timestamptz,
  ADD COLUMN relay_last_failed_at  timestamptz,
  ADD COLUMN relay_available_at    timestamptz;

-- Quarantined events keep their outbox id, so that `npm run outbox -- retry`
-- puts them back where they were in the relay's order (it claims by id), and
-- their created_at, so the relay's lag shows how long they really waited.
CREATE TABLE outbox_quarantine (
  id             bigint      PRIMARY KEY,
  tenant_id      text        NOT NULL,
  message_id     uuid        NOT NULL UNIQUE,
  type           text        NOT NULL,
  envelope       jsonb       NOT NULL,
  created_at     timestamptz NOT NULL,
  error          text        NOT NULL,
  attempts       int         NOT NULL,
  first_seen     timestamptz NOT NULL,
  last_seen      timestamptz NOT NULL,
  quarantined_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE outbox_quarantine ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox_quarantine FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox_quarantine
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

-- The relay (and the operator CLI, which connects as the relay) moves events
-- between the two tables; re-inserting with the original id needs no sequence.
-- UPDATE only because the CLI locks the rows it acts on (SELECT … FOR UPDATE).
GRANT SELECT, INSERT, UPDATE, DELETE ON outbox_quarantine TO coherence_relay;
GRANT INSERT, DELETE ON outbox TO coherence_relay;
