export {
  loadPolicyBundle,
  policyBundleDir,
  policyBundleFiles,
  policyBundleManifestSchema,
  policyBundleSha256,
  POLICY_ENTRYPOINT,
  signPolicyBundle,
  type PolicyBundle,
  type PolicyBundleManifest,
} from './loadPolicyBundle';
export { createPolicyEngine, type PolicyEngine, type PolicyEngineOptions, type PolicyVerdict } from './createPolicyEngine';
export { isOlderVersion, refusal, type ActivationResult, type ArtifactRefusal } from './activationResult';
export { buildPolicyInput, policyInputSchema, type PolicyInput, type PolicyInputParts } from './buildPolicyInput';
export {
  createDecisionRecorder,
  type DecisionRecorder,
  type DecisionRecorderOptions,
  type RecordedDecision,
  type ShadowVerdict,
} from './createDecisionRecorder';
export { createTenantDirectory, type TenantDirectory, type TenantDirectoryOptions, type TenantRecord } from './createTenantDirectory';
export { listenForTenantChanges, type TenantChangeListenerOptions } from './listenForTenantChanges';
export { compilePolicyBundle, writeSignedPolicyBundle, type PolicyBundleSource, type PolicyCompiler } from './compilePolicyBundle';
export {
  createSimulation,
  formatSimulationReport,
  type DecisionChange,
  type DecisionChangeGroup,
  type DecisionChangeKind,
  type ReplayedDecision,
  type SimulationReport,
} from './simulateDecisions';
export { goldenAsReplayed, goldenDecisionsSchema, unacknowledgedChanges, type GoldenDecisions } from './goldenDecisions';
export { readRecordedDecisions, type RecordedDecisionQuery } from './readRecordedDecisions';
export {
  acceptsUnknownClients,
  acceptUnknownClientsCheck,
  acceptUnknownClientsField,
  clientRefusal,
  createClientDirectory,
  type ApiClientRecord,
  type ClientDirectory,
  type ClientRefusal,
} from './createClientDirectory';
