-- Policy simulation (docs/adr/0027-policy-simulation.md). Every decision keeps
-- the input the bundle was asked about, so a candidate bundle can be replayed
-- over real traffic (`npm run policy -- simulate`). The input is built from the
-- verified principal, the persisted operation and server-side data only: it
-- holds no token, signature or query text. Rows written before this migration
-- have none and are not replayed.
--
-- With a shadow bundle configured (GATEWAY_SHADOW_BUNDLE_DIR), the gateway
-- also keeps what that bundle answered; a disagreement is a row whose
-- shadow_reason_code differs from reason_code.
ALTER TABLE policy_decisions
  ADD COLUMN input                jsonb,
  ADD COLUMN shadow_bundle_sha256 text,
  ADD COLUMN shadow_allow         boolean,
  ADD COLUMN shadow_reason_code   text,
  ADD CHECK ((shadow_bundle_sha256 IS NULL) = (shadow_allow IS NULL) AND (shadow_allow IS NULL) = (shadow_reason_code IS NULL));
CREATE INDEX policy_decisions_decided_at ON policy_decisions (decided_at);
