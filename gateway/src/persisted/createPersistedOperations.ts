import {
  manifestSchema,
  operationCost,
  parseCosts,
  validateCosts,
  validateOperations,
  type PersistedOperation,
} from '@coherence/persisted-queries';
import { parse, type GraphQLSchema } from 'graphql';
import { analyzeOperation, type OperationShape } from './analyzeOperation';

/** A runnable operation with what the policy needs to know about it, and what a request of it costs the limiter. */
export type GatewayOperation = PersistedOperation & {
  shape: OperationShape;
  /** Tokens a request with these variables spends of the caller's and the tenant's buckets. */
  cost(variables: Record<string, unknown>): number;
};

/**
 * The operations the gateway will run, by id. Loading fails (the gateway
 * does not start, or a reload is refused) if the manifest is malformed, an
 * id is not the sha256 of its body, an operation does not validate against
 * the API schema, or the cost table does not fit the manifest (as `pq check`
 * would say): a broken manifest must never reach traffic.
 */
export function createPersistedOperations(manifestJson: unknown, costsJson: unknown, apiSchema: GraphQLSchema) {
  const manifest = manifestSchema.parse(manifestJson);
  const costs = parseCosts(costsJson);
  const problems = [
    ...validateOperations(manifest.operations, apiSchema).map(({ operation, message }) => `${operation.name}: ${message}`),
    ...validateCosts(manifest.operations, costs).map(({ name, message }) => `${name}: ${message}`),
  ];
  if (problems.length > 0) throw new Error(`persisted query manifest refused:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const byId = new Map<string, GatewayOperation>();
  for (const operation of manifest.operations) {
    const entry = costs[operation.name]!;
    byId.set(operation.id, {
      ...operation,
      shape: analyzeOperation(parse(operation.body)),
      cost: (variables) => operationCost(entry, variables),
    });
  }
  return {
    get: (id: string): GatewayOperation | undefined => byId.get(id),
    size: byId.size,
  };
}

export type PersistedOperations = ReturnType<typeof createPersistedOperations>;
