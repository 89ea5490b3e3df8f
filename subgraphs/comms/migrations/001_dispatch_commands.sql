-- The comms command bus starts here: commands to notify a tenant's contacts.
-- A command that needs an operator ('troubleshooting') is an open alert.
CREATE TABLE dispatch_commands (
  command_id      uuid        PRIMARY KEY,
  tenant_id       text        NOT NULL,
  type            text        NOT NULL,
  idempotency_key text        NOT NULL,
  state           text        NOT NULL CHECK (state IN ('pending', 'running', 'succeeded', 'troubleshooting', 'cancelled')),
  payload         jsonb       NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, idempotency_key)
);
CREATE INDEX dispatch_commands_open ON dispatch_commands (tenant_id) WHERE state = 'troubleshooting';

ALTER TABLE dispatch_commands ENABLE ROW LEVEL SECURITY;
ALTER TABLE dispatch_commands FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dispatch_commands
  USING (tenant_id = current_setting('app.tenant_id', true))
  WITH CHECK (tenant_id = current_setting('app.tenant_id', true));

GRANT SELECT, INSERT, UPDATE ON dispatch_commands TO coherence_app;
