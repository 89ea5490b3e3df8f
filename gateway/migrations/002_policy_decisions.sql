-- Every policy decision the gateway makes, allowed or denied (the shape of
-- PolicyDecision in packages/contracts). Written in batches, append-only.
-- tenant_id is the tenant the operation targets (the token's own when it
-- targets none).
CREATE TABLE policy_decisions (
  decision_id    uuid        PRIMARY KEY,
  tenant_id      text        NOT NULL,
  subject        text        NOT NULL,
  client_id      text,
  operation_id   text        NOT NULL,
  operation_type text        NOT NULL,
  allow          boolean     NOT NULL,
  reason_code    text        NOT NULL,
  explanation    text        NOT NULL,
  bundle_sha256  text,
  correlation_id text        NOT NULL,
  region         text        NOT NULL,
  decided_at     timestamptz NOT NULL,
  CHECK (allow = (reason_code = 'ALLOWED')),
  CHECK (NOT allow OR bundle_sha256 IS NOT NULL)
);
CREATE INDEX policy_decisions_tenant ON policy_decisions (tenant_id, decided_at);
CREATE INDEX policy_decisions_correlation ON policy_decisions (correlation_id);

ALTER TABLE policy_decisions ENABLE ROW LEVEL SECURITY;
ALTER TABLE policy_decisions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON policy_decisions
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

GRANT INSERT, SELECT ON policy_decisions TO coherence_app;
