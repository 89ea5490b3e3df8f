import { valueFromASTUntyped, type FieldNode } from 'graphql';

const TENANT_KEY = 'tenantId';

/**
 * Every tenant id the arguments of `fields` hold: the values of any argument
 * or input-object key named `tenantId` (an entity representation is such an
 * object too), with `variables` substituted. Numbers count too: `ID` accepts
 * them. The gateway's policy and the subgraphs' check of the internal token
 * read tenants with this one walk, so they cannot disagree on what a request
 * touches.
 */
export function tenantIdsInArguments(fields: readonly FieldNode[], variables: Record<string, unknown>): string[] {
  const found = new Set<string>();
  for (const field of fields) {
    for (const argument of field.arguments ?? []) {
      const value = valueFromASTUntyped(argument.value, variables);
      if (argument.name.value === TENANT_KEY) addTenantId(value, found);
      collectTenantIds(value, found);
    }
  }
  return [...found];
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
