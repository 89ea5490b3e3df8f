import { tenantIdsInArguments } from '@coherence/platform';
import {
  Kind,
  valueFromASTUntyped,
  type DocumentNode,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type FieldNode,
} from 'graphql';

/** What an operation touches (the policy, the kill switch and the cache consume it), read from its document once, at manifest load. */
export interface OperationShape {
  /** The root fields it selects (through fragments too), in document order, without duplicates. */
  rootFields: string[];
  /** The variables it declares; others a request sends are ignored by execution. */
  variableNames: string[];
  /**
   * Every tenant id the request touches: the values under any argument or
   * input-object key named `tenantId`, with the request's variables (and the
   * operation's variable defaults) substituted. Numbers count too: `ID`
   * accepts them.
   */
  tenantIds(variables: Record<string, unknown>): string[];
}

/** Reads the root fields and their arguments; throws if the document does not hold exactly one operation. */
export function analyzeOperation(document: DocumentNode): OperationShape {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1) throw new Error(`expected one operation, found ${operations.length}`);
  const operation = operations[0]!;
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const fields = rootFieldNodes(operation.selectionSet, fragments, new Set());
  const defaults = Object.fromEntries(
    (operation.variableDefinitions ?? [])
      .filter((definition) => definition.defaultValue !== undefined)
      .map((definition) => [definition.variable.name.value, valueFromASTUntyped(definition.defaultValue!)]),
  );
  return {
    rootFields: [...new Set(fields.map((field) => field.name.value))],
    variableNames: (operation.variableDefinitions ?? []).map((definition) => definition.variable.name.value),
    tenantIds: (variables) => tenantIdsInArguments(fields, { ...defaults, ...variables }),
  };
}

function rootFieldNodes(selectionSet: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, seen: Set<string>): FieldNode[] {
  return selectionSet.selections.flatMap((selection): FieldNode[] => {
    if (selection.kind === Kind.FIELD) return selection.name.value === '__typename' ? [] : [selection];
    if (selection.kind === Kind.INLINE_FRAGMENT) return rootFieldNodes(selection.selectionSet, fragments, seen);
    const name = selection.name.value;
    const fragment = fragments.get(name);
    if (!fragment || seen.has(name)) return [];
    return rootFieldNodes(fragment.selectionSet, fragments, new Set([...seen, name]));
  });
}
