-- The command bus proper (docs/adr/0005-comms-command-bus.md): leases for
-- workers, retries with backoff, an audit row per state change, webhook
-- delivery records, tenant contacts and quiet hours, the quiet-hours policy
-- decisions, and inbound provider messages.
--
-- Operator access: the worker claims and the operator API reads across
-- tenants. They say so explicitly per transaction with
-- `set_config('app.comms_operator', 'on', true)`; everything else stays scoped
-- to `app.tenant_id` by the existing tenant_isolation policies.

ALTER TABLE dispatch_commands
  ADD COLUMN correlation_id   text        NOT NULL DEFAULT '-',
  ADD COLUMN attempts         int         NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  ADD COLUMN max_attempts     int         NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
  ADD COLUMN run_after        timestamptz NOT NULL DEFAULT now(),
  -- Set while running: who holds the command (a token per claim) and until when.
  ADD COLUMN lease_token      uuid,
  ADD COLUMN lease_expires_at timestamptz,
  ADD COLUMN last_error       jsonb,
  ADD COLUMN updated_at       timestamptz NOT NULL DEFAULT now(),
  ADD CONSTRAINT dispatch_commands_lease CHECK ((state = 'running') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL));
CREATE INDEX dispatch_commands_due ON dispatch_commands (run_after) WHERE state = 'pending';
CREATE INDEX dispatch_commands_leases ON dispatch_commands (lease_expires_at) WHERE state = 'running';
CREATE INDEX dispatch_commands_listing ON dispatch_commands (state, created_at, command_id);

CREATE POLICY comms_operator ON dispatch_commands
  USING (current_setting('app.comms_operator', true) = 'on')
  WITH CHECK (current_setting('app.comms_operator', true) = 'on');

-- Every state change of a command: who (system:<worker> or operator:<subject>),
-- what, when, from/to, why. Append-only.
CREATE TABLE dispatch_audit (
  audit_id       bigserial   PRIMARY KEY,
  -- Retention removes finished commands; their trail goes with them.
  command_id     uuid        NOT NULL REFERENCES dispatch_commands (command_id) ON DELETE CASCADE,
  tenant_id      text        NOT NULL,
  actor          text        NOT NULL,
  action         text        NOT NULL,
  from_state     text,
  to_state       text        NOT NULL,
  reason         text        NOT NULL,
  correlation_id text        NOT NULL,
  occurred_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX dispatch_audit_command ON dispatch_audit (command_id, audit_id);

-- One row per webhook attempt: outcome, latency and a bounded, redacted response snippet.
CREATE TABLE comms_deliveries (
  delivery_id  bigserial   PRIMARY KEY,
  command_id   uuid        NOT NULL REFERENCES dispatch_commands (command_id) ON DELETE CASCADE,
  tenant_id    text        NOT NULL,
  attempt      int         NOT NULL,
  url          text        NOT NULL,
  outcome      text        NOT NULL CHECK (outcome IN ('delivered', 'transient', 'permanent', 'blocked')),
  status       int,
  latency_ms   int         NOT NULL,
  response     jsonb,
  error        text,
  attempted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comms_deliveries_command ON comms_deliveries (command_id);

-- Where a tenant's notifications go.
CREATE TABLE comms_contacts (
  tenant_id  text NOT NULL,
  contact_id text NOT NULL,
  channel    text NOT NULL CHECK (channel IN ('webhook')),
  url        text NOT NULL,
  PRIMARY KEY (tenant_id, contact_id)
);

-- A tenant's quiet hours, in its own time zone; starts_at > ends_at spans midnight.
CREATE TABLE comms_quiet_hours (
  tenant_id text PRIMARY KEY,
  time_zone text NOT NULL,
  starts_at time NOT NULL,
  ends_at   time NOT NULL
);

-- Quiet-hours decisions, with the columns of the gateway's policy_decisions
-- (which comms cannot reference: comms migrates independently of the gateway).
CREATE TABLE comms_policy_decisions (
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
CREATE INDEX comms_policy_decisions_tenant ON comms_policy_decisions (tenant_id, decided_at);

-- Inbound (and recorded outbound) provider messages, raw payload kept: the tenant's comms timeline.
CREATE TABLE comms_envelopes (
  envelope_id         uuid        PRIMARY KEY,
  tenant_id           text        NOT NULL,
  channel             text        NOT NULL,
  direction           text        NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  provider            text        NOT NULL,
  provider_message_id text,
  correlation_id      text        NOT NULL,
  received_at         timestamptz NOT NULL,
  payload             jsonb       NOT NULL
);
CREATE INDEX comms_envelopes_timeline ON comms_envelopes (tenant_id, received_at);

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['dispatch_audit', 'comms_deliveries', 'comms_contacts', 'comms_quiet_hours', 'comms_policy_decisions', 'comms_envelopes'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
      USING (tenant_id = current_setting('app.tenant_id', true))
      WITH CHECK (tenant_id = current_setting('app.tenant_id', true))$p$, t);
    EXECUTE format($p$CREATE POLICY comms_operator ON %I
      USING (current_setting('app.comms_operator', true) = 'on')
      WITH CHECK (current_setting('app.comms_operator', true) = 'on')$p$, t);
  END LOOP;
END $$;

GRANT SELECT, INSERT ON dispatch_audit, comms_deliveries, comms_policy_decisions, comms_envelopes TO coherence_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON comms_contacts, comms_quiet_hours TO coherence_app;
GRANT USAGE ON SEQUENCE dispatch_audit_audit_id_seq, comms_deliveries_delivery_id_seq TO coherence_app;

-- Providers retry deliveries; the same provider message is kept once.
CREATE UNIQUE INDEX comms_envelopes_provider_message ON comms_envelopes (tenant_id, provider, provider_message_id)
  WHERE provider_message_id IS NOT NULL;
