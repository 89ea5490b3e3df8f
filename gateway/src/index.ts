import { fileURLToPath } from 'node:url';

export { createGateway } from './createGateway';
export type { GatewayContext } from './execution/createOperationExecutor';
export { readGatewayConfig, type GatewayConfig } from './config';
export { gatewayErrorCodes, graphqlErrorBody } from './errors';
export { supergraphPath, subgraphNames } from './supergraph/subgraphs';
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
} from './policy/loadPolicyBundle';

/** The gateway's tables (tenants, policy_decisions); run after platform's. */
export const gatewayMigrationsDir = fileURLToPath(new URL('../migrations', import.meta.url));
