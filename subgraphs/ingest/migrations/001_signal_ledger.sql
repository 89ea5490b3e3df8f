-- Roles are cluster-wide; the services never connect as the owner, so forced
-- row-level security applies to them. The relay reads every tenant's outbox
-- and is the one role allowed to bypass it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'coherence_app') THEN
    CREATE ROLE coherence_app LOGIN NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'coherence_relay') THEN
    CREATE ROLE coherence_relay LOGIN BYPASSRLS;
  END IF;
END
$$;

CREATE TABLE signal_ledger (
  tenant_id   text             NOT NULL,
  source      text             NOT NULL,
  signal_id   text             NOT NULL,
  ts          timestamptz      NOT NULL,
  type        text             NOT NULL,
  value       double precision NOT NULL CHECK (value >= 0 AND value <= 1),
  weight      double precision NOT NULL CHECK (weight > 0),
  provenance  jsonb            NOT NULL,
  received_at timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, source, signal_id, ts)
);
CREATE INDEX signal_ledger_received ON signal_ledger (tenant_id, received_at);

-- Transactional outbox: written in the same transaction as the ledger rows,
-- drained by the relay. processed_at IS NULL is the relay's checkpoint, so a
-- crashed relay resumes exactly where the committed work ends.
CREATE TABLE outbox (
  id           bigserial   PRIMARY KEY,
  tenant_id    text        NOT NULL,
  message_id   uuid        NOT NULL UNIQUE,
  type         text        NOT NULL,
  envelope     jsonb       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  processed_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE processed_at IS NULL;

-- Running per-tenant totals, so the dedupe rate does not need a scan.
CREATE TABLE ingest_counters (
  tenant_id text   PRIMARY KEY,
  accepted  bigint NOT NULL DEFAULT 0,
  deduped   bigint NOT NULL DEFAULT 0
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['signal_ledger', 'outbox', 'ingest_counters'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
      USING (tenant_id = current_setting('app.tenant_id', true))
      WITH CHECK (tenant_id = current_setting('app.tenant_id', true))$p$, t);
  END LOOP;
END
$$;

GRANT SELECT, INSERT ON signal_ledger TO coherence_app;
GRANT SELECT, INSERT ON outbox TO coherence_app;
GRANT SELECT, INSERT, UPDATE ON ingest_counters TO coherence_app;
GRANT USAGE ON SEQUENCE outbox_id_seq TO coherence_app;
GRANT SELECT ON signal_ledger TO coherence_relay;
GRANT SELECT, UPDATE ON outbox TO coherence_relay;
