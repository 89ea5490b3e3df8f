import { manifestSchema, sha256Hex, type PersistedOperation } from '@coherence/persisted-queries';
import { parse, validate, type GraphQLSchema } from 'graphql';
import { analyzeOperation, type OperationShape } from '../policy/analyzeOperation';

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
  const byId = new Map<string, GatewayOperation>();
  const problems: string[] = [];
  for (const operation of manifest.operations) {
    if (sha256Hex(operation.body) !== operation.id) problems.push(`${operation.name}: id is not the sha256 of its body`);
    const document = parse(operation.body);
    const errors = validate(apiSchema, document);
    for (const error of errors) problems.push(`${operation.name}: ${error.message}`);
    if (errors.length === 0) byId.set(operation.id, { ...operation, shape: analyzeOperation(document) });
  }
  if (problems.length > 0) throw new Error(`persisted query manifest refused:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return {
    get: (id: string): GatewayOperation | undefined => byId.get(id),
    size: byId.size,
  };
}

export type PersistedOperations = ReturnType<typeof createPersistedOperations>;
