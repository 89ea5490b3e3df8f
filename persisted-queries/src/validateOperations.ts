import { Supergraph } from '@apollo/federation-internals';
import { parse, validate, type GraphQLSchema } from 'graphql';
import { sha256Hex, type PersistedOperation } from './manifest';

/** The schema clients see, from a supergraph SDL (the federation machinery stripped). */
export function apiSchemaFromSupergraph(supergraphSdl: string): GraphQLSchema {
  return Supergraph.build(supergraphSdl).apiSchema().toGraphQLJSSchema();
}

export interface OperationProblem {
  operation: PersistedOperation;
  message: string;
}

/**
 * Why each operation could not be served by a gateway running `apiSchema`:
 * its id is not the sha256 of its body, or its body does not validate
 * (a field removed or renamed by a schema change, say).
 */
export function validateOperations(operations: readonly PersistedOperation[], apiSchema: GraphQLSchema): OperationProblem[] {
  const problems: OperationProblem[] = [];
  for (const operation of operations) {
    if (sha256Hex(operation.body) !== operation.id) problems.push({ operation, message: 'id is not the sha256 of its body' });
    try {
      for (const error of validate(apiSchema, parse(operation.body))) problems.push({ operation, message: error.message });
    } catch (error) {
      problems.push({ operation, message: error instanceof Error ? error.message : String(error) });
    }
  }
  return problems;
}
