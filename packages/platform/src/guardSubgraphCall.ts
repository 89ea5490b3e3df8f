import type { ApolloServerPlugin } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  valueFromASTUntyped,
  type FieldNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { SubgraphContext } from './mountSubgraph';
import { tenantIdsInArguments } from './tenantIdsInArguments';

/** Why a subgraph refuses a call whose token verified, before any resolver runs. */
export const subgraphCallRefusals = {
  /** The call names a tenant the gateway's token does not carry: a token replayed with another request. */
  INTERNAL_TOKEN_TENANT_MISMATCH: 403,
  /** `_entities` asks for more representations than SUBGRAPH_MAX_REPRESENTATIONS. */
  TOO_MANY_REPRESENTATIONS: 400,
} as const;

const refuse = (code: keyof typeof subgraphCallRefusals, message: string) =>
  new GraphQLError(message, { extensions: { code, http: { status: subgraphCallRefusals[code] } } });

/**
 * Checks every call once its operation is known and before it executes:
 * every tenant id in its arguments (entity representations included) must be
 * among the tenants the internal token carries, and `_entities` is bounded.
 * Here rather than in resolvers, so no resolver can forget it.
 */
export function guardSubgraphCall<TContext extends SubgraphContext>(maxRepresentations: number): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, request, contextValue }) {
          // Apollo resolves exactly one operation before this hook, or answers the request itself.
          if (!operation) return;
          const fragments = new Map(
            document.definitions
              .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
              .map((d) => [d.name.value, d]),
          );
          const variables = request.variables ?? {};
          for (const field of operation.selectionSet.selections) {
            if (field.kind !== Kind.FIELD || field.name.value !== '_entities') continue;
            const representations = field.arguments?.find((argument) => argument.name.value === 'representations');
            const value: unknown = representations && valueFromASTUntyped(representations.value, variables);
            if (Array.isArray(value) && value.length > maxRepresentations)
              throw refuse(
                'TOO_MANY_REPRESENTATIONS',
                `_entities takes at most ${maxRepresentations} representations (got ${value.length})`,
              );
          }
          const allowed = new Set(contextValue.caller.tenantIds);
          const outside = tenantIdsInArguments(fieldsOf(operation, fragments), variables).filter((tenantId) => !allowed.has(tenantId));
          if (outside.length > 0)
            throw refuse('INTERNAL_TOKEN_TENANT_MISMATCH', `the gateway's token does not cover tenant ${outside.join(', ')}`);
        },
      };
    },
  };
}

/** Every field the operation selects, at any depth, through fragments (validation has refused fragment cycles). */
function fieldsOf(operation: OperationDefinitionNode, fragments: Map<string, FragmentDefinitionNode>): FieldNode[] {
  const fields: FieldNode[] = [];
  const pending: SelectionSetNode[] = [operation.selectionSet];
  for (let set = pending.pop(); set !== undefined; set = pending.pop()) {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) fields.push(selection);
      const inner = selection.kind === Kind.FRAGMENT_SPREAD ? fragments.get(selection.name.value)?.selectionSet : selection.selectionSet;
      if (inner) pending.push(inner);
    }
  }
  return fields;
}
