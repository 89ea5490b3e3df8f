import { SIGNATURES_FILE } from '@coherence/auth';
import { readSignedManifest } from '@coherence/persisted-queries';
import type { Logger } from '@coherence/platform';
import type { GraphQLSchema } from 'graphql';
import type { KeyObject } from 'node:crypto';
import { dirname, join } from 'node:path';
import { isOlderVersion, refusal, type ActivationResult } from '@coherence/policy';
import { createPersistedOperations, type PersistedOperations } from './createPersistedOperations';

export interface OperationStoreOptions {
  /** The persisted query manifest (Apollo's format); its cost table is `costs.json` beside it, its signature `.signatures.json`. */
  manifestPath: string;
  /** Every operation must validate against it. */
  apiSchema: GraphQLSchema;
  /** The pinned key the manifest must be signed with (GATEWAY_MANIFEST_PUBLIC_KEY). */
  publicKey: KeyObject;
  /** Activate a publication older than the active one (GATEWAY_ALLOW_ROLLBACK); otherwise it is refused. */
  allowRollback: boolean;
  logger: Logger;
}

/**
 * The persisted operations now active, with their costs. They are taken
 * only from a manifest and cost table signed by the pinned key, and never
 * from a publication older than the active one (unless rollback is
 * allowed). At start a refused manifest stops the gateway (this throws); on
 * reload it is refused and the running pair stays.
 */
export async function createOperationStore(options: OperationStoreOptions) {
  const { logger } = options;
  const load = async (activeVersion: number | undefined) => {
    const signed = await readSignedManifest(options.manifestPath, options.publicKey);
    if (activeVersion !== undefined && !options.allowRollback && isOlderVersion(String(signed.version), String(activeVersion)))
      return {
        ok: false as const,
        reason: 'ROLLBACK' as const,
        error: `publication ${signed.version} is older than the active ${activeVersion}`,
      };
    const operations = createPersistedOperations(signed.manifest, signed.costs, options.apiSchema);
    return { ok: true as const, operations, version: signed.version, sha256: signed.sha256, keyId: signed.keyId };
  };
  const activation = (loaded: { version: number; sha256: string; keyId: string }): ActivationResult => ({
    ok: true,
    version: String(loaded.version),
    sha256: loaded.sha256,
    keyId: loaded.keyId,
  });

  const first = await load(undefined).catch((error: unknown) => refusal(error));
  if (!first.ok) throw new Error(`persisted query manifest ${options.manifestPath} refused (${first.reason}): ${first.error}`);
  let operations: PersistedOperations = first.operations;
  let version = first.version;
  logger.info({ operations: operations.size, version, sha256: first.sha256 }, 'persisted operations loaded');
  return {
    /** The file whose change reloads the operations: the signature, which `pq` writes after the files it signs. */
    files: [join(dirname(options.manifestPath), SIGNATURES_FILE)],
    /** The activation at start, for the gateway to record. */
    started: activation(first),
    current: (): PersistedOperations => operations,
    /** Re-reads the manifest and the cost table; refused (logged) when the signature, the version or the content is not acceptable. */
    async reload(): Promise<ActivationResult> {
      const loaded = await load(version).catch((error: unknown) => refusal(error));
      if (!loaded.ok) {
        logger.error(
          { reason: loaded.reason, error: loaded.error, kept: version },
          'persisted query manifest refused; the previous one stays active',
        );
        return loaded;
      }
      operations = loaded.operations;
      version = loaded.version;
      logger.info({ operations: operations.size, version, sha256: loaded.sha256 }, 'persisted operations reloaded');
      return activation(loaded);
    },
  };
}
