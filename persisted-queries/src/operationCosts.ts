import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Kind, parse, type OperationDefinitionNode, type TypeNode } from 'graphql';
import { z } from 'zod';
import type { PersistedOperation } from './manifest';

/**
 * What each persisted operation costs the gateway's limiter, keyed by
 * operation name. A separate file beside the manifest, not fields in it: the
 * manifest stays Apollo's format byte for byte, and the table travels with
 * it (`pq publish` writes both; the gateway loads and reloads both).
 */
export const COSTS_FILE = 'costs.json';

/** The cost table that goes with the manifest at `manifestPath`. */
export const costsPathFor = (manifestPath: string): string => join(dirname(manifestPath), COSTS_FILE);

const costEntrySchema = z.strictObject({
  /** Tokens one request spends: the whole request, or each page of `scale.per` items when it is scaled. */
  base: z.number().int().positive(),
  /**
   * A list argument the work grows with: the request spends `base` for every
   * `per` items it asks for (rounded up), the variable's value capped at
   * `max`. Without the variable (or null), one page: `per` should be the
   * field's default page size.
   */
  scale: z
    .strictObject({
      variable: z.string().min(1),
      per: z.number().int().positive(),
      max: z.number().int().positive(),
    })
    .optional(),
});
export const costTableSchema = z.record(z.string().min(1), costEntrySchema);
export type CostEntry = z.output<typeof costEntrySchema>;
export type CostTable = z.output<typeof costTableSchema>;

/** The cost table at `path`; empty when there is none (then every operation lacks an entry). Throws, saying where, when it is malformed. */
export function readCosts(path: string): CostTable {
  if (!existsSync(path)) return {};
  return parseCosts(JSON.parse(readFileSync(path, 'utf8')));
}

/** A cost table from its JSON; throws with every malformed entry named. */
export function parseCosts(json: unknown): CostTable {
  const parsed = costTableSchema.safeParse(json);
  if (!parsed.success)
    throw new Error(`malformed cost table: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** Tokens a request of the operation with `entry` spends, given the request's variables. */
export function operationCost(entry: CostEntry, variables: Record<string, unknown>): number {
  const { scale } = entry;
  if (!scale) return entry.base;
  const value = variables[scale.variable];
  // Not a number (absent, null, or a value execution will refuse): one page. Below 1 counts as 1, above `max` as `max`.
  const items = typeof value === 'number' ? Math.min(Math.max(value, 1), scale.max) : scale.per;
  return entry.base * Math.ceil(items / scale.per);
}

export interface CostProblem {
  /** The operation name (the table's key); empty when the problem is the whole table's. */
  name: string;
  message: string;
}

const isInt = (type: TypeNode): boolean =>
  type.kind === Kind.NON_NULL_TYPE ? isInt(type.type) : type.kind === Kind.NAMED_TYPE && type.name.value === 'Int';

/** Why the scaling variable cannot be read from requests of `operation`, if it cannot. */
function scaleProblem(operation: PersistedOperation, variable: string): string | undefined {
  let definition;
  try {
    definition = parse(operation.body).definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  } catch {
    return undefined; // validateOperations reports a body that does not parse
  }
  const declared = definition?.variableDefinitions?.find((d) => d.variable.name.value === variable);
  const id = operation.id.slice(0, 12);
  if (!declared) return `scale variable $${variable} is not declared by ${id}`;
  if (!isInt(declared.type)) return `scale variable $${variable} of ${id} must be an Int`;
  // The subgraph would use a default the gateway never sees in the request: the limiter would charge one page for it.
  if (declared.defaultValue) return `scale variable $${variable} of ${id} has a default value; leave the default to the field`;
  return undefined;
}

/**
 * Why `costs` does not fit `operations` (the manifest's): every operation
 * name needs an entry, no entry may name an operation the manifest lacks,
 * and a scaling variable must be an Int variable, without a default, that
 * every operation of that name (old ids included) declares.
 */
export function validateCosts(operations: readonly PersistedOperation[], costs: CostTable): CostProblem[] {
  const problems: CostProblem[] = [];
  const names = new Set(operations.map((operation) => operation.name));
  for (const name of names) {
    const entry = costs[name];
    if (!entry) {
      problems.push({ name, message: `has no entry in ${COSTS_FILE}` });
      continue;
    }
    const { scale } = entry;
    if (!scale) continue;
    for (const operation of operations.filter((op) => op.name === name)) {
      const message = scaleProblem(operation, scale.variable);
      if (message) problems.push({ name, message });
    }
  }
  for (const name of Object.keys(costs)) {
    if (!names.has(name)) problems.push({ name, message: `has an entry in ${COSTS_FILE} but no operation in the manifest` });
  }
  return problems;
}
