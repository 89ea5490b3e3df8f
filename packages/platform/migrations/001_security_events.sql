-- Security events from every service (AUTH_DENY, TENANT_MISMATCH, …): who,
-- why, when, from where. Append-only for the services. tenant_id is the
-- tenant the request claimed or targeted; '-' when none could be told.
CREATE TABLE security_events (
  id             bigserial   PRIMARY KEY,
  tenant_id      text        NOT NULL,
  kind           text        NOT NULL,
  service        text        NOT NULL,
  subject        text,
  client_id      text,
  reason         text        NOT NULL,
  source_ip      text,
  correlation_id text        NOT NULL,
  details        jsonb       NOT NULL DEFAULT '{}',
  occurred_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX security_events_tenant ON security_events (tenant_id, occurred_at);

ALTER TABLE security_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE security_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON security_events
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

GRANT INSERT, SELECT ON security_events TO coherence_app;
GRANT USAGE ON SEQUENCE security_events_id_seq TO coherence_app;
