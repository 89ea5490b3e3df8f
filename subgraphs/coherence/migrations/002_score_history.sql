-- Every change of a tenant's score or status, written by the relay in the
-- transaction that upserts coherence_scores. A row is also the durable
-- CoherenceChanged notification: `message` is what gets published and
-- `published_at` stays NULL until Redis has taken it, so a relay that dies
-- between COMMIT and publish publishes it on its next pass (docs/adr/0004).
CREATE TABLE coherence_score_history (
  id           bigserial        PRIMARY KEY,
  tenant_id    text             NOT NULL,
  score        double precision CHECK (score >= 0 AND score <= 1),
  status       text             NOT NULL CHECK (status IN ('HEALTHY', 'WARN', 'CRITICAL', 'UNKNOWN')),
  changed_at   timestamptz      NOT NULL DEFAULT now(),
  message      jsonb            NOT NULL,
  published_at timestamptz
);
CREATE INDEX coherence_score_history_tenant ON coherence_score_history (tenant_id, id);
CREATE INDEX coherence_score_history_unpublished ON coherence_score_history (id) WHERE published_at IS NULL;

ALTER TABLE coherence_score_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE coherence_score_history FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON coherence_score_history
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

GRANT SELECT ON coherence_score_history TO coherence_app;
GRANT SELECT, INSERT, UPDATE ON coherence_score_history TO coherence_relay;
GRANT USAGE ON SEQUENCE coherence_score_history_id_seq TO coherence_relay;
