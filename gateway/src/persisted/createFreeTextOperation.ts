import { sha256Hex } from '@coherence/persisted-queries';
import {
  GraphQLError,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { analyzeOperation } from './analyzeOperation';
import type { GatewayOperation } from './createPersistedOperations';

/**
 * Bounds on break-glass text. Persisted operations are reviewed before they
 * run; query text is not, so its size is bounded instead, before validation
 * (whose overlap check grows with the square of the fields, fragments
 * expanded) and before anything reaches a subgraph.
 */
export const FREE_TEXT_LIMITS = {
  /** Lexical tokens, checked while parsing: bounds every walk below (the body limit alone allows ~30,000 nested braces). */
  maxTokens: 2_000,
  /** Nesting of fields (a root field is 1); the deepest persisted operation has 5. */
  maxDepth: 8,
  /** Fields selected, named fragments expanded where spread; the largest persisted operation has 30. */
  maxFields: 100,
  /** Aliased fields, expanded alike; persisted operations have none, triage may read a few tenants side by side. */
  maxAliases: 10,
} as const;

/**
 * What a request of break-glass text spends of the limiter's buckets. It has
 * no entry in the cost table (nobody reviewed it), so it is charged like the
 * dearest persisted request, a full page of signals (costs.json); its size is
 * bounded by {@link FREE_TEXT_LIMITS} instead of by a declared cost.
 */
export const FREE_TEXT_COST = 10;

interface SelectionSize {
  depth: number;
  fields: number;
  aliases: number;
}

/**
 * The size of `operation` as it would execute: every spread of a named
 * fragment counts its fields again. Each fragment is measured once, so a
 * fragment spread many times (the exponential case) costs nothing extra
 * here; a fragment that spreads itself counts as empty, and validation then
 * refuses it.
 */
function measureOperation(document: DocumentNode, operation: OperationDefinitionNode): SelectionSize {
  const fragments = new Map(
    document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  const measured = new Map<string, SelectionSize>();
  const entered = new Set<string>();
  const empty: SelectionSize = { depth: 0, fields: 0, aliases: 0 };

  const fragmentSize = (name: string): SelectionSize => {
    const known = measured.get(name);
    if (known) return known;
    const fragment = fragments.get(name);
    if (!fragment || entered.has(name)) return empty;
    entered.add(name);
    const size = selectionSize(fragment.selectionSet);
    measured.set(name, size);
    return size;
  };

  const selectionSize = (selectionSet: SelectionSetNode): SelectionSize => {
    const total = { ...empty };
    for (const selection of selectionSet.selections) {
      let inner: SelectionSize;
      if (selection.kind === Kind.FIELD) {
        const below = selection.selectionSet ? selectionSize(selection.selectionSet) : empty;
        inner = { depth: below.depth + 1, fields: below.fields + 1, aliases: below.aliases + (selection.alias ? 1 : 0) };
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        inner = selectionSize(selection.selectionSet);
      } else {
        inner = fragmentSize(selection.name.value);
      }
      total.depth = Math.max(total.depth, inner.depth);
      total.fields += inner.fields;
      total.aliases += inner.aliases;
    }
    return total;
  };

  return selectionSize(operation.selectionSet);
}

/** Why `size` is over {@link FREE_TEXT_LIMITS}, or undefined. */
function overLimits(size: SelectionSize): string | undefined {
  if (size.depth > FREE_TEXT_LIMITS.maxDepth) return `fields are nested ${size.depth} deep: at most ${FREE_TEXT_LIMITS.maxDepth}`;
  if (size.fields > FREE_TEXT_LIMITS.maxFields) return `it selects ${size.fields} fields: at most ${FREE_TEXT_LIMITS.maxFields}`;
  if (size.aliases > FREE_TEXT_LIMITS.maxAliases) return `it has ${size.aliases} aliases: at most ${FREE_TEXT_LIMITS.maxAliases}`;
  return undefined;
}

/**
 * Break glass only: turns query text into an operation the pipeline can
 * authorize and run, as if it were persisted. Its id is `free-text:` plus
 * the sha256 of the text, so audit rows never pass for a persisted id.
 * Returns why it cannot run when the text does not parse, is over
 * {@link FREE_TEXT_LIMITS}, or does not validate.
 */
export function createFreeTextOperation(query: string, apiSchema: GraphQLSchema): GatewayOperation | { problem: string } {
  let document;
  try {
    document = parse(query, { maxTokens: FREE_TEXT_LIMITS.maxTokens });
  } catch (error) {
    return { problem: error instanceof GraphQLError ? error.message : 'the query does not parse' };
  }
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1) return { problem: 'send exactly one operation' };
  const operation = operations[0]!;
  const name = operation.name?.value;
  if (name === undefined) return { problem: 'name the operation (its name goes into the audit log)' };
  const tooLarge = overLimits(measureOperation(document, operation));
  if (tooLarge !== undefined) return { problem: `${name} is over the break-glass limits: ${tooLarge}` };
  const errors = validate(apiSchema, document);
  if (errors.length > 0) return { problem: errors.map((error) => error.message).join('; ') };
  return {
    id: `free-text:${sha256Hex(query)}`,
    name,
    type: operation.operation,
    body: query,
    shape: analyzeOperation(document),
    cost: () => FREE_TEXT_COST,
  };
}
