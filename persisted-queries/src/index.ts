import { fileURLToPath } from 'node:url';

export {
  manifestSchema,
  persistedOperationSchema,
  createManifest,
  toPersistedOperation,
  sha256Hex,
  type Manifest,
  type PersistedOperation,
} from './manifest';
export { buildManifest } from './buildManifest';

export const operationsDir = fileURLToPath(new URL('../operations', import.meta.url));
export const manifestPath = fileURLToPath(new URL('../manifest.json', import.meta.url));
