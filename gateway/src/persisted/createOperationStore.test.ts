import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import costs from '@coherence/persisted-queries/costs.json' with { type: 'json' };
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger } from '@coherence/platform';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { supergraphPath } from '../supergraph/subgraphs';
import { createOperationStore } from './createOperationStore';

/** The gateway's operations from a manifest and the cost table beside it, as deployed: files it reads and re-reads. */
const apiSchema = apiSchemaFromSupergraph(readFileSync(supergraphPath, 'utf8'));
const idOf = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;
let dir: string;
const manifestPath = () => join(dir, 'manifest.json');
const writeCosts = (table: unknown) => writeFileSync(join(dir, 'costs.json'), JSON.stringify(table));
const open = () => createOperationStore({ manifestPath: manifestPath(), apiSchema, logger: createLogger('test', 'silent') });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'operation-store-'));
  writeFileSync(manifestPath(), JSON.stringify(manifest));
  writeCosts(costs);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('createOperationStore', () => {
  it("gives each operation its declared cost, scaled by the request's list argument and capped", async () => {
    const operations = (await open()).current();
    expect(operations.get(idOf('TenantCoherence'))!.cost({ tenantId: 'acme' })).toBe(1);
    expect(operations.get(idOf('CancelCommand'))!.cost({})).toBe(2);
    const signals = operations.get(idOf('Signals'))!;
    expect([{}, { first: 50 }, { first: 120 }, { first: 500 }, { first: 1e9 }].map((variables) => signals.cost(variables))).toEqual([
      1, 1, 3, 10, 10,
    ]);
  });

  it('does not start without a cost table, or with one that does not fit the manifest', async () => {
    rmSync(join(dir, 'costs.json'));
    await expect(open()).rejects.toThrow(/costs\.json/);
    const { Signals: _signals, ...withoutSignals } = costs;
    writeCosts(withoutSignals);
    await expect(open()).rejects.toThrow('Signals: has no entry in costs.json');
  });

  it('refuses a reload with a bad cost table and keeps the operations and costs it has', async () => {
    const store = await open();
    writeCosts({ ...costs, TenantCoherence: { base: 1, scale: { variable: 'first', per: 50, max: 100 } } });
    expect(await store.reload()).toBe(false);
    writeCosts({ ...costs, TenantCoherence: { base: -1 } });
    expect(await store.reload()).toBe(false);
    expect(store.current().get(idOf('TenantCoherence'))!.cost({})).toBe(1);

    writeCosts({ ...costs, TenantCoherence: { base: 3 } });
    expect(await store.reload()).toBe(true);
    expect(store.current().get(idOf('TenantCoherence'))!.cost({})).toBe(3);
    expect(store.files).toEqual([manifestPath(), join(dir, 'costs.json')]);
  });
});
