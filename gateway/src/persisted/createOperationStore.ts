import { costsPathFor } from '@coherence/persisted-queries';
import type { Logger } from '@coherence/platform';
import type { GraphQLSchema } from 'graphql';
import { readFile } from 'node:fs/promises';
import { createPersistedOperations, type PersistedOperations } from './createPersistedOperations';

export interface OperationStoreOptions {
  /** The persisted query manifest (Apollo's format); its cost table is `costs.json` beside it. */
  manifestPath: string;
  /** Every operation must validate against it. */
  apiSchema: GraphQLSchema;
  logger: Logger;
}

/**
 * The persisted operations now active, with their costs. At start a bad
 * manifest or cost table stops the gateway (this throws); on reload it is
 * refused and the running pair stays.
 */
export async function createOperationStore(options: OperationStoreOptions) {
  const { logger } = options;
  const readJson = async (path: string): Promise<unknown> => JSON.parse(await readFile(path, 'utf8'));
  const load = async () =>
    createPersistedOperations(await readJson(options.manifestPath), await readJson(costsPathFor(options.manifestPath)), options.apiSchema);
  let operations: PersistedOperations = await load();
  logger.info({ operations: operations.size }, 'persisted operations loaded');
  return {
    /** The files whose change reloads the operations: the manifest and its cost table. */
    files: [options.manifestPath, costsPathFor(options.manifestPath)],
    current: (): PersistedOperations => operations,
    /** Re-reads the manifest and the cost table; false (logged) when they are refused. */
    async reload(): Promise<boolean> {
      try {
        operations = await load();
        logger.info({ operations: operations.size }, 'persisted operations reloaded');
        return true;
      } catch (error) {
        logger.error({ err: error }, 'persisted query manifest refused; the previous one stays active');
        return false;
      }
    },
  };
}
