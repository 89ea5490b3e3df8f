import { createHash } from 'node:crypto';
import { parse, print, type OperationDefinitionNode } from 'graphql';
import { z } from 'zod';

/**
 * Apollo's persisted query manifest format (what
 * `@apollo/generate-persisted-query-manifest` writes and
 * `@apollo/persisted-query-lists` reads).
 */
export const persistedOperationSchema = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase sha256 hex digest'),
  name: z.string().min(1),
  type: z.enum(['query', 'mutation', 'subscription']),
  body: z.string().min(1),
});
export const manifestSchema = z.strictObject({
  format: z.literal('apollo-persisted-query-manifest'),
  version: z.literal(1),
  operations: z.array(persistedOperationSchema),
});
export type PersistedOperation = z.output<typeof persistedOperationSchema>;
export type Manifest = z.output<typeof manifestSchema>;

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Turns one operation document into a manifest entry. The body is the
 * document as graphql-js prints it, so formatting and comments in the source
 * do not change the id; the id is the sha256 of exactly that body, which is
 * what clients send.
 */
export function toPersistedOperation(source: string, origin: string): PersistedOperation {
  const document = parse(source);
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition');
  const [operation] = operations;
  if (operations.length !== 1 || !operation) throw new Error(`${origin}: expected exactly one operation, found ${operations.length}`);
  if (!operation.name) throw new Error(`${origin}: the operation needs a name`);
  const body = print(document);
  return { id: sha256Hex(body), name: operation.name.value, type: operation.operation, body };
}

/** A manifest with a stable order (by name, then id), so regenerating it gives the same bytes. */
export function createManifest(operations: readonly PersistedOperation[]): Manifest {
  const sorted = [...operations].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  return { format: 'apollo-persisted-query-manifest', version: 1, operations: sorted };
}
