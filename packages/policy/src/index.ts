export {
  loadPolicyBundle,
  policyBundleDir,
  policyBundleFiles,
  policyBundleManifestSchema,
  policyBundleSha256,
  POLICY_ENTRYPOINT,
  type PolicyBundle,
  type PolicyBundleManifest,
} from './loadPolicyBundle';
export { createPolicyEngine, type ActivationResult, type PolicyEngine, type PolicyVerdict } from './createPolicyEngine';
export { buildPolicyInput, type PolicyInput, type PolicyInputParts } from './buildPolicyInput';
export {
  createDecisionRecorder,
  type DecisionRecorder,
  type DecisionRecorderOptions,
  type RecordedDecision,
} from './createDecisionRecorder';
export { createTenantDirectory, type TenantDirectory, type TenantDirectoryOptions, type TenantRecord } from './createTenantDirectory';
