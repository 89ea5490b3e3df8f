import type { Logger } from '@coherence/platform';
import type { GraphQLSchema } from 'graphql';
import { readFile } from 'node:fs/promises';
import { createPersistedOperations, type PersistedOperations } from './createPersistedOperations';

export interface OperationStoreOptions {
  /** The persisted query manifest (Apollo's format). */
  manifestPath: string;
  /** Every operation must validate against it. */
  apiSchema: GraphQLSchema;
  logger: Logger;
}

/**
 * The persisted operations now active. At start a bad manifest stops the
 * gateway (this throws); on reload it is refused and the running one stays.
 */
export async function createOperationStore(options: OperationStoreOptions) {
  const { logger } = options;
  const load = async () => createPersistedOperations(JSON.parse(await readFile(options.manifestPath, 'utf8')), options.apiSchema);
  let operations: PersistedOperations = await load();
  logger.info({ operations: operations.size }, 'persisted operations loaded');
  return {
    current: (): PersistedOperations => operations,
    /** Re-reads the manifest; false (logged) when it is refused. */
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
