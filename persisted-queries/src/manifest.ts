import { createHash } from 'node:crypto';
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
 * A manifest ordered by operation name, as Apollo's generator orders it.
 * The sort is stable: entries of one name keep the order given (older ids
 * first), and clients that look an id up by name take the last one.
 */
export function createManifest(operations: readonly PersistedOperation[]): Manifest {
  const sorted = [...operations].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { format: 'apollo-persisted-query-manifest', version: 1, operations: sorted };
}
