import { createManifest, sha256Hex, type PersistedOperation } from '@coherence/persisted-queries';
import { describe, expect, it } from 'vitest';
import { diffManifests } from './manifestDiff';

const op = (name: string, body: string): PersistedOperation => ({ id: sha256Hex(body), name, type: 'query', body });
const a1 = op('A', 'query A { a }');
const a2 = op('A', 'query A { a b }');
const b = op('B', 'query B { b }');
const c = op('C', 'query C { c }');

describe('diffManifests', () => {
  it('names new, changed and removed operations and counts the ids', () => {
    const diff = diffManifests(createManifest([a1, b]), createManifest([a1, a2, c]));
    expect(diff.newOperations).toEqual(['C']);
    expect(diff.changedOperations).toEqual(['A']);
    expect(diff.removedOperations).toEqual(['B']);
    expect(diff.addedIds.map((entry) => entry.id)).toEqual([a2.id, c.id]);
    expect(diff.removedIds).toEqual([{ id: b.id, name: 'B', type: 'query' }]);
    expect(diff.unchangedIds).toBe(1);
  });

  it('does not call an operation removed while one of its ids is still there', () => {
    const diff = diffManifests(createManifest([a1, a2]), createManifest([a2]));
    expect(diff.removedOperations).toEqual([]);
    expect(diff.removedIds.map((entry) => entry.id)).toEqual([a1.id]);
  });

  it('finds nothing between a manifest and itself', () => {
    const manifest = createManifest([a1, b]);
    expect(diffManifests(manifest, manifest)).toEqual({
      addedIds: [],
      removedIds: [],
      newOperations: [],
      changedOperations: [],
      removedOperations: [],
      unchangedIds: 2,
    });
  });
});
