/**
 * What a release changes in the persisted-operation manifest: every id added
 * or removed, and by operation name what that means for clients (a new
 * operation, a new version of one they run, one they can no longer run).
 */
import type { Manifest, PersistedOperation } from '@coherence/persisted-queries';

type Entry = Pick<PersistedOperation, 'id' | 'name' | 'type'>;

export interface ManifestDiff {
  addedIds: Entry[];
  removedIds: Entry[];
  /** Names the previous manifest did not have. */
  newOperations: string[];
  /** Names both have, with an id the previous one did not (a changed body). */
  changedOperations: string[];
  /** Names the previous manifest had and this one has not: clients of these are refused. */
  removedOperations: string[];
  unchangedIds: number;
}

const entry = ({ id, name, type }: PersistedOperation): Entry => ({ id, name, type });
const sortedUnique = (names: Iterable<string>) => [...new Set(names)].sort();

export function diffManifests(previous: Manifest, current: Manifest): ManifestDiff {
  const previousIds = new Set(previous.operations.map((op) => op.id));
  const currentIds = new Set(current.operations.map((op) => op.id));
  const previousNames = new Set(previous.operations.map((op) => op.name));
  const currentNames = new Set(current.operations.map((op) => op.name));
  const addedIds = current.operations.filter((op) => !previousIds.has(op.id)).map(entry);
  return {
    addedIds,
    removedIds: previous.operations.filter((op) => !currentIds.has(op.id)).map(entry),
    newOperations: sortedUnique(addedIds.filter((op) => !previousNames.has(op.name)).map((op) => op.name)),
    changedOperations: sortedUnique(addedIds.filter((op) => previousNames.has(op.name)).map((op) => op.name)),
    removedOperations: sortedUnique([...previousNames].filter((name) => !currentNames.has(name))),
    unchangedIds: current.operations.filter((op) => previousIds.has(op.id)).length,
  };
}
