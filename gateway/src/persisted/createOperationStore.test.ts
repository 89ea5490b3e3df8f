import { devArtifactPublicKeyPath, devArtifactSigningKeyPath, readArtifactPublicKey, readArtifactSigningKey } from '@coherence/auth';
import { apiSchemaFromSupergraph, PUBLICATION_RECORD, signManifest } from '@coherence/persisted-queries';
import costs from '@coherence/persisted-queries/costs.json' with { type: 'json' };
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger } from '@coherence/platform';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { supergraphPath } from '../supergraph/subgraphs';
import { createOperationStore } from './createOperationStore';

/** The gateway's operations from a signed manifest and the cost table beside it, as deployed: files it reads and re-reads. */
const apiSchema = apiSchemaFromSupergraph(readFileSync(supergraphPath, 'utf8'));
const idOf = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;
const devKey = readArtifactSigningKey(devArtifactSigningKeyPath);
let dir: string;
const manifestPath = () => join(dir, 'manifest.json');
/** Writes the cost table and signs it with the manifest, as `pq` does (with another key when given). */
const writeCosts = async (table: unknown, key = devKey) => {
  writeFileSync(join(dir, 'costs.json'), JSON.stringify(table));
  await signManifest(manifestPath(), key);
};
const open = (allowRollback = false) =>
  createOperationStore({
    manifestPath: manifestPath(),
    apiSchema,
    publicKey: readArtifactPublicKey(devArtifactPublicKeyPath),
    allowRollback,
    logger: createLogger('test', 'silent'),
  });

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'operation-store-'));
  writeFileSync(manifestPath(), JSON.stringify(manifest));
  await writeCosts(costs);
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
    await writeCosts(withoutSignals);
    await expect(open()).rejects.toThrow('Signals: has no entry in costs.json');
  });

  it('does not start with an unsigned manifest, one signed by another key, or one changed after signing', async () => {
    await writeCosts(costs, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
    await expect(open()).rejects.toThrow(/refused \(SIGNATURE_INVALID\): the signature does not verify under the pinned key/);
    await writeCosts(costs);
    writeFileSync(manifestPath(), JSON.stringify({ ...manifest, operations: manifest.operations.slice(1) }));
    await expect(open()).rejects.toThrow(/refused \(HASH_MISMATCH\): manifest\.json hashes to/);
    rmSync(join(dir, '.signatures.json'));
    await expect(open()).rejects.toThrow(/refused \(UNSIGNED\)/);
  });

  it('refuses a reload with a bad cost table and keeps the operations and costs it has', async () => {
    const store = await open();
    await writeCosts({ ...costs, TenantCoherence: { base: 1, scale: { variable: 'first', per: 50, max: 100 } } });
    expect(await store.reload()).toMatchObject({ ok: false, reason: 'INVALID_ARTIFACT' });
    await writeCosts({ ...costs, TenantCoherence: { base: -1 } });
    expect(await store.reload()).toMatchObject({ ok: false, reason: 'INVALID_ARTIFACT' });
    // A cost table edited without signing it again.
    writeFileSync(join(dir, 'costs.json'), JSON.stringify({ ...costs, TenantCoherence: { base: 5 } }));
    expect(await store.reload()).toMatchObject({ ok: false, reason: 'HASH_MISMATCH' });
    expect(store.current().get(idOf('TenantCoherence'))!.cost({})).toBe(1);

    await writeCosts({ ...costs, TenantCoherence: { base: 3 } });
    expect(await store.reload()).toMatchObject({ ok: true, version: '0' });
    expect(store.current().get(idOf('TenantCoherence'))!.cost({})).toBe(3);
    expect(store.files).toEqual([join(dir, '.signatures.json')]);
  });

  it('refuses a publication older than the active one unless rollback is allowed', async () => {
    const publish = async (version: number, table: unknown) => {
      writeFileSync(join(dir, PUBLICATION_RECORD), JSON.stringify({ version, sha256: '', publishedAt: '', operations: 0 }));
      await writeCosts(table);
    };
    await publish(3, costs);
    const store = await open();
    expect(store.started).toMatchObject({ ok: true, version: '3' });
    await publish(2, { ...costs, TenantCoherence: { base: 2 } });
    expect(await store.reload()).toEqual({ ok: false, reason: 'ROLLBACK', error: 'publication 2 is older than the active 3' });
    expect(store.current().get(idOf('TenantCoherence'))!.cost({})).toBe(1);

    await publish(3, costs);
    const permissive = await open(true);
    await publish(2, { ...costs, TenantCoherence: { base: 2 } });
    expect(await permissive.reload()).toMatchObject({ ok: true, version: '2' });
    expect(permissive.current().get(idOf('TenantCoherence'))!.cost({})).toBe(2);
  });
});
