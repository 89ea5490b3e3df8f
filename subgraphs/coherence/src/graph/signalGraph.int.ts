import { type AcceptedSignal, type SignalInput } from '@coherence/contracts';
import { goldenTenants, goldenTenantSignals } from '@coherence/fixtures';
import { deleteGraphOf } from '@coherence/testkit';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import type { Driver } from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createNeo4jDriver, ensureGraphSchema, projectSignals, readSignalPage } from './signalGraph';

/**
 * The graph schema and paging against the real Neo4j, on one golden tenant
 * (10,000 signals). The Cypher aggregate is checked against TypeScript and
 * the expected file on every golden tenant in e2e/coherenceGolden.e2e.ts,
 * where all 100,000 are in the graph anyway.
 */
let database: TestDatabase;
let driver: Driver;
const anchor = new Date();
let signals: SignalInput[];

const accepted = (signal: SignalInput): AcceptedSignal => ({
  ...signal,
  weight: signal.weight ?? 1,
  provenance: { purpose: 'test', retention: 'P30D', license: 'internal', residency: 'us' },
  receivedAt: anchor.toISOString(),
});

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  driver = createNeo4jDriver(services.neo4jBoltUrl);
  await ensureGraphSchema(driver);
  signals = goldenTenantSignals(
    goldenTenants.find((t) => t.tenantId === 'golden-03')!,
    anchor,
    { tenantPrefix: `${database.namespace}-` },
  );
  const startedAt = Date.now();
  for (let i = 0; i < signals.length; i += 5_000) await projectSignals(driver, signals.slice(i, i + 5_000).map(accepted));
  process.stderr.write(`[signalGraph.int] projected ${signals.length} signals in ${Date.now() - startedAt} ms\n`);
}, 300_000);

afterAll(async () => {
  await deleteGraphOf(driver, `${database.namespace}-`);
  await driver?.close();
  await database?.drop();
});

describe('graph schema', () => {
  it('is created idempotently: a second run changes nothing', async () => {
    const list = async () =>
      (await driver.executeQuery('SHOW CONSTRAINTS YIELD name RETURN collect(name) AS names')).records[0]!.get('names') as string[];
    const before = await list();
    await ensureGraphSchema(driver);
    expect(await list()).toEqual(before);
    expect(before).toEqual(expect.arrayContaining(['tenant_id', 'source_key', 'signal_key']));
  });
});

describe('readSignalPage', () => {
  const tenantId = () => `${database.namespace}-golden-03`;

  it('walks every signal of a tenant exactly once, newest first', async () => {
    const seen: string[] = [];
    let previousTs = Number.POSITIVE_INFINITY;
    let after;
    for (let pages = 0; pages < 20; pages += 1) {
      const page = await readSignalPage(driver, { tenantId: tenantId(), first: 1_000, after });
      for (const signal of page.signals) {
        const ts = Date.parse(signal.ts);
        expect(ts).toBeLessThanOrEqual(previousTs);
        previousTs = ts;
        seen.push(signal.signalId);
      }
      if (!page.hasNextPage) break;
      after = page.signals.at(-1);
    }
    expect(seen).toHaveLength(10_000);
    expect(new Set(seen).size).toBe(10_000);
  });

  it('keeps since and until inclusive and never shows another tenant', async () => {
    const own = signals.filter((s) => s.tenantId === tenantId()).sort((a, b) => Date.parse(b.ts) - Date.parse(a.ts));
    const until = own[10]!.ts;
    const since = own[19]!.ts;
    const page = await readSignalPage(driver, { tenantId: tenantId(), since, until, first: 100 });
    const inRange = own.filter((s) => Date.parse(s.ts) >= Date.parse(since) && Date.parse(s.ts) <= Date.parse(until));
    expect(page.signals.map((s) => s.signalId).sort()).toEqual(inRange.map((s) => s.signalId).sort());
    expect(page.hasNextPage).toBe(false);
    expect(new Set(page.signals.map((s) => s.tenantId))).toEqual(new Set([tenantId()]));
    expect(page.signals[0]).toMatchObject({ type: 'health', provenance: { purpose: 'test', residency: 'us' } });
  });
});
