-- The read model behind tenantCoherence: one row per tenant, upserted by the
-- relay after each recompute. Roles come from ingest's first migration.
CREATE TABLE coherence_scores (
  tenant_id   text             PRIMARY KEY,
  score       double precision CHECK (score >= 0 AND score <= 1),
  status      text             NOT NULL CHECK (status IN ('HEALTHY', 'WARN', 'CRITICAL', 'UNKNOWN')),
  agreement   double precision CHECK (agreement >= 0 AND agreement <= 1),
  window_iso  text             NOT NULL,
  sources     jsonb            NOT NULL,
  as_of       timestamptz      NOT NULL,
  updated_at  timestamptz      NOT NULL DEFAULT now()
);

ALTER TABLE coherence_scores ENABLE ROW LEVEL SECURITY;
ALTER TABLE coherence_scores FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON coherence_scores
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

GRANT SELECT ON coherence_scores TO coherence_app;
GRANT SELECT, INSERT, UPDATE ON coherence_scores TO coherence_relay;

-- The relay records why it could not read an outbox event (a bug upstream,
-- never expected) instead of stopping the whole stream on it.
ALTER TABLE outbox ADD COLUMN relay_error text;
