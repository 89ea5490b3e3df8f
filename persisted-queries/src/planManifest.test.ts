import { describe, expect, it } from 'vitest';
import { createManifest } from './manifest';
import { normalizeOperationText } from './normalizeOperation';
import { planManifest } from './planManifest';

const source = (text: string) => ({ ...normalizeOperationText(text), file: 'ops.graphql', line: 1 });
const v1 = source('query A { tenantCoherence(tenantId: "x") { score } }');
const v2 = source('query A { tenantCoherence(tenantId: "x") { score status } }');
const b = source('query B { tenantCoherence(tenantId: "y") { status } }');

describe('planManifest', () => {
  it('adds new operations and leaves known ones unchanged', () => {
    const first = planManifest(createManifest([]), [v1]);
    expect(first.changes.map((c) => c.kind)).toEqual(['added']);
    const second = planManifest(first.manifest, [v1, b]);
    expect(second.changes.map((c) => [c.kind, c.operation.name])).toEqual([
      ['unchanged', 'A'],
      ['added', 'B'],
    ]);
    expect(second.manifest.operations.map((op) => op.name)).toEqual(['A', 'B']);
  });

  it('gives a changed body a new id and keeps the old one before it until pruned', () => {
    const changed = planManifest(createManifest([v1]), [v2]);
    expect(changed.changes).toContainEqual(expect.objectContaining({ kind: 'changed', previousIds: [v1.id] }));
    expect(changed.changes).toContainEqual(expect.objectContaining({ kind: 'stale' }));
    // Clients that map a name to an id take the last entry: the new one.
    expect(changed.manifest.operations.map((op) => op.id)).toEqual([v1.id, v2.id]);
    const pruned = planManifest(changed.manifest, [v2], { prune: true });
    expect(pruned.manifest.operations.map((op) => op.id)).toEqual([v2.id]);
  });

  it('ids are the sha256 of the normalised body, whatever the source formatting', () => {
    const spaced = source('# a comment\nquery A {\n\n  tenantCoherence(tenantId: "x") {   score }\n}');
    expect(spaced.id).toBe(v1.id);
    expect(v1.body).toContain('__typename');
  });
});
