import { fileURLToPath } from 'node:url';

export { manifestSchema, persistedOperationSchema, createManifest, sha256Hex, type Manifest, type PersistedOperation } from './manifest';
export { normalizeOperation, normalizeOperationText } from './normalizeOperation';
export { extractOperations, type SourceOperation, type SourceProblem } from './extractOperations';
export { planManifest, type Change, type Plan } from './planManifest';
export {
  costsPathFor,
  operationCost,
  parseCosts,
  readCosts,
  validateCosts,
  COSTS_FILE,
  type CostEntry,
  type CostProblem,
  type CostTable,
} from './operationCosts';
export { apiSchemaFromSupergraph, validateOperations, type OperationProblem } from './validateOperations';
export { readManifest, readPublication, PUBLISHED_MANIFEST, PUBLICATION_RECORD, type Publication } from './manifestFiles';
export { publishManifest } from './publishManifest';
export { MANIFEST_SIGNATURE_SCOPE, readSignedManifest, signManifest, type SignedManifest } from './signedManifest';
export { runPq, EXIT } from './cli';

export const operationsDir = fileURLToPath(new URL('../operations', import.meta.url));
export const manifestPath = fileURLToPath(new URL('../manifest.json', import.meta.url));
export const costsPath = fileURLToPath(new URL('../costs.json', import.meta.url));
