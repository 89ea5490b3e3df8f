import { manifestSchema, validateOperations, type PersistedOperation } from '@coherence/persisted-queries';
import { parse, type GraphQLSchema } from 'graphql';
import { analyzeOperation, type OperationShape } from './analyzeOperation';

/** A runnable operation with what the policy needs to know about it. */
export type GatewayOperation = PersistedOperation & { shape: OperationShape };

/**
 * The operations the gateway will run, by id. Loading fails (the gateway
 * does not start, or a reload is refused) if the manifest is malformed, an
 * id is not the sha256 of its body, or an operation does not validate
 * against the API schema: a broken manifest must never reach traffic.
 */
export function createPersistedOperations(manifestJson: unknown, apiSchema: GraphQLSchema) {
  const manifest = manifestSchema.parse(manifestJson);
  const problems = validateOperations(manifest.operations, apiSchema).map(({ operation, message }) => `${operation.name}: ${message}`);
  if (problems.length > 0) throw new Error(`persisted query manifest refused:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const byId = new Map<string, GatewayOperation>();
  for (const operation of manifest.operations) byId.set(operation.id, { ...operation, shape: analyzeOperation(parse(operation.body)) });
  return {
    get: (id: string): GatewayOperation | undefined => byId.get(id),
    size: byId.size,
  };
}

export type PersistedOperations = ReturnType<typeof createPersistedOperations>;
