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

const TENANT_KEY = 'tenantId';

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
    tenantIds(variables) {
      const values = { ...defaults, ...variables };
      const found = new Set<string>();
      for (const field of fields) {
        for (const argument of field.arguments ?? []) {
          const value = valueFromASTUntyped(argument.value, values);
          if (argument.name.value === TENANT_KEY) addTenantId(value, found);
          collectTenantIds(value, found);
        }
      }
      return [...found];
    },
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

// Both walks are iterative, in the order a recursive walk would take: the
// variables come from the client, and no depth of nesting may exhaust the
// stack (the gateway also caps it, MAX_VARIABLE_DEPTH, before this runs).

/** A tenant id value: a string, a number, or a list of them at any depth. */
function addTenantId(value: unknown, found: Set<string>): void {
  const pending = [value];
  while (pending.length > 0) {
    const current = pending.pop();
    if (typeof current === 'string') found.add(current);
    else if (typeof current === 'number') found.add(String(current));
    else if (Array.isArray(current)) for (let i = current.length - 1; i >= 0; i -= 1) pending.push(current[i]);
  }
}

/** Every value under a `tenantId` key, at any depth of lists and input objects. */
function collectTenantIds(value: unknown, found: Set<string>): void {
  const pending: { tenantIdValue: boolean; value: unknown }[] = [{ tenantIdValue: false, value }];
  while (pending.length > 0) {
    const current = pending.pop()!;
    if (current.tenantIdValue) {
      addTenantId(current.value, found);
      continue;
    }
    const inner = current.value;
    const entries: [string | undefined, unknown][] = Array.isArray(inner)
      ? inner.map((item) => [undefined, item])
      : typeof inner === 'object' && inner !== null
        ? Object.entries(inner)
        : [];
    // Pushed last-first, so the first entry is handled first; a key's own value before what is nested in it.
    for (let i = entries.length - 1; i >= 0; i -= 1) {
      const [key, item] = entries[i]!;
      pending.push({ tenantIdValue: false, value: item });
      if (key === TENANT_KEY) pending.push({ tenantIdValue: true, value: item });
    }
  }
}
