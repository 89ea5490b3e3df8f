import { sha256Hex } from '@coherence/persisted-queries';
import { GraphQLError, Kind, parse, validate, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { analyzeOperation } from './analyzeOperation';
import type { GatewayOperation } from './createPersistedOperations';

/**
 * Break glass only: turns query text into an operation the pipeline can
 * authorize and run, as if it were persisted. Its id is `free-text:` plus
 * the sha256 of the text, so audit rows never pass for a persisted id.
 * Returns why it cannot run when the text does not parse or validate.
 */
export function createFreeTextOperation(query: string, apiSchema: GraphQLSchema): GatewayOperation | { problem: string } {
  let document;
  try {
    document = parse(query);
  } catch (error) {
    return { problem: error instanceof GraphQLError ? error.message : 'the query does not parse' };
  }
  const errors = validate(apiSchema, document);
  if (errors.length > 0) return { problem: errors.map((error) => error.message).join('; ') };
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1) return { problem: 'send exactly one operation' };
  const name = operations[0]!.name?.value;
  if (name === undefined) return { problem: 'name the operation (its name goes into the audit log)' };
  return {
    id: `free-text:${sha256Hex(query)}`,
    name,
    type: operations[0]!.operation,
    body: query,
    shape: analyzeOperation(document),
  };
}
