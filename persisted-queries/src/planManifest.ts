import { createManifest, type Manifest, type PersistedOperation } from './manifest';
import type { SourceOperation } from './extractOperations';

export type Change =
  | { kind: 'added'; operation: SourceOperation }
  | { kind: 'unchanged'; operation: SourceOperation }
  | { kind: 'changed'; operation: SourceOperation; previousIds: string[] }
  | { kind: 'stale'; operation: PersistedOperation };

export interface Plan {
  changes: Change[];
  manifest: Manifest;
}

/**
 * What registering `sources` does to `current`. A changed operation gets a
 * new id while its old entries stay (deployed clients still send the old
 * id) until `pq prune`; they are listed as stale, before the current entry
 * of the same name so that clients looking an id up by name get the newest.
 * With `prune`, entries no source produces any more are dropped.
 */
export function planManifest(current: Manifest, sources: readonly SourceOperation[], options: { prune?: boolean } = {}): Plan {
  const currentIds = new Set(current.operations.map((op) => op.id));
  const sourceIds = new Set(sources.map((op) => op.id));
  const changes: Change[] = [];
  for (const operation of sources) {
    if (currentIds.has(operation.id)) {
      changes.push({ kind: 'unchanged', operation });
      continue;
    }
    const previousIds = current.operations.filter((op) => op.name === operation.name).map((op) => op.id);
    changes.push(previousIds.length > 0 ? { kind: 'changed', operation, previousIds } : { kind: 'added', operation });
  }
  const stale = current.operations.filter((op) => !sourceIds.has(op.id));
  for (const operation of stale) changes.push({ kind: 'stale', operation });
  const kept = options.prune ? [] : stale;
  const fresh = sources.map(({ id, name, type, body }) => ({ id, name, type, body }));
  return { changes, manifest: createManifest([...kept, ...fresh]) };
}
