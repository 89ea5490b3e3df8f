import { acceptedSignalSchema, MAX_SIGNAL_WEIGHT, MIN_SIGNAL_WEIGHT, type AcceptedSignal } from '@coherence/contracts';
import fc from 'fast-check';
import type { Driver } from 'neo4j-driver';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { aggregateBySource, computeCoherence, statusOf, type SourceAggregate } from '../modules/coherence/computeCoherence';
import { aggregateWindow, createNeo4jDriver, ensureGraphSchema, projectSignals } from './signalGraph';

/**
 * The two halves of the score must agree: the Cypher aggregate over projected
 * signals (what the relay uses) and the TypeScript aggregate over the same
 * signals (what e2e and the golden file use), for arbitrary accepted batches,
 * including extreme weights and values at the ends of their ranges, and
 * signals on and just outside the window's edges. Each run writes a fresh
 * tenant, so runs cannot see each other's signals.
 */
const WINDOW_MS = 24 * 3_600_000;
const NUM_RUNS = 60;
const asOf = new Date();
// Unique per test file run; the graph is shared with every other test file.
const tenantPrefix = `agg-${randomUUID()}`;
let driver: Driver;
let run = 0;

beforeAll(async () => {
  driver = createNeo4jDriver(inject('services').neo4jBoltUrl);
  await ensureGraphSchema(driver);
});

afterAll(async () => {
  await driver?.executeQuery('MATCH (n) WHERE n.tenantId STARTS WITH $p OR n.id STARTS WITH $p DETACH DELETE n', { p: tenantPrefix });
  await driver?.close();
});

const weight = fc.oneof(
  fc.constantFrom(MIN_SIGNAL_WEIGHT, 1, MAX_SIGNAL_WEIGHT),
  fc.double({ min: MIN_SIGNAL_WEIGHT, max: MAX_SIGNAL_WEIGHT, noNaN: true }),
);
const value = fc.oneof(fc.constantFrom(0, 1, 0.5, Number.MIN_VALUE), fc.double({ min: 0, max: 1, noNaN: true }));
/** Offsets before asOf: mostly inside the window, plus both edges (asOf is in, asOf − window is out) and beyond. */
const ageMs = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 1, max: WINDOW_MS - 1 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, WINDOW_MS, WINDOW_MS + 1, WINDOW_MS - 1) },
);
const draft = fc.record({ source: fc.constantFrom('api', 'db', 'queue', 'café', 'cafe\u0301', '😀'), value, weight, ageMs });
const batch = fc.array(draft, { minLength: 1, maxLength: 12 });
type Draft = typeof draft extends fc.Arbitrary<infer T> ? T : never;

/** The batch as ingest would have accepted it, checked by the real schema. */
function acceptedBatch(tenantId: string, drafts: readonly Draft[]): AcceptedSignal[] {
  return drafts.map((d, index) =>
    acceptedSignalSchema.parse({
      tenantId,
      source: d.source,
      signalId: `s-${index}`,
      ts: new Date(asOf.getTime() - d.ageMs).toISOString(),
      type: 'latency',
      value: d.value,
      weight: d.weight,
      provenance: { purpose: 'test', retention: 'P1D', license: 'internal', residency: 'us' },
      receivedAt: asOf.toISOString(),
    }),
  );
}

const closeTo = (a: number, b: number): boolean => a === b || Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)) + 1e-300;
const bySourceName = (aggregates: SourceAggregate[]) => [...aggregates].sort((x, y) => (x.source < y.source ? -1 : 1));

describe('aggregateWindow (Cypher) agrees with aggregateBySource (TypeScript) on arbitrary accepted batches', () => {
  it(`holds for ${NUM_RUNS} projected batches`, async () => {
    await fc.assert(
      fc.asyncProperty(batch, async (drafts) => {
        run += 1;
        const tenantId = `${tenantPrefix}-${run}`;
        const signals = acceptedBatch(tenantId, drafts);
        await projectSignals(driver, signals);

        const inWindow = signals.filter((s) => {
          const ts = Date.parse(s.ts);
          return ts > asOf.getTime() - WINDOW_MS && ts <= asOf.getTime();
        });
        const fromTypeScript = bySourceName(aggregateBySource(inWindow));
        const fromGraph = bySourceName(await aggregateWindow(driver, tenantId, asOf, WINDOW_MS));

        // The unrounded sums: equal up to the order in which each side adds.
        expect(fromGraph.map((a) => [a.source, a.count])).toEqual(fromTypeScript.map((a) => [a.source, a.count]));
        fromGraph.forEach((g, i) => {
          const t = fromTypeScript[i]!;
          expect(closeTo(g.weightedSum, t.weightedSum), `${g.source} Σw·v ${g.weightedSum} vs ${t.weightedSum}`).toBe(true);
          expect(closeTo(g.weightSum, t.weightSum), `${g.source} Σw ${g.weightSum} vs ${t.weightSum}`).toBe(true);
        });

        // The scores: finite, in [0, 1], and equal up to one rounding step (a sum an ulp apart may round the other way).
        const graphScore = computeCoherence(fromGraph);
        const typeScriptScore = computeCoherence(fromTypeScript);
        for (const result of [graphScore, typeScriptScore]) {
          expect(result.status).toBe(statusOf(result.score));
          for (const n of [result.score, result.agreement, ...result.sources.map((s) => s.score)]) {
            expect(n === null || (Number.isFinite(n) && n >= 0 && n <= 1), `${n}`).toBe(true);
          }
        }
        const step = (a: number | null, b: number | null) => (a === null || b === null ? a === b : Math.abs(a - b) <= 0.000_1 + 1e-12);
        expect(step(graphScore.score, typeScriptScore.score), `score ${graphScore.score} vs ${typeScriptScore.score}`).toBe(true);
        expect(step(graphScore.agreement, typeScriptScore.agreement)).toBe(true);
        expect(graphScore.sources.map((s) => [s.source, s.count])).toEqual(typeScriptScore.sources.map((s) => [s.source, s.count]));
        graphScore.sources.forEach((s, i) => expect(step(s.score, typeScriptScore.sources[i]!.score)).toBe(true));
      }),
      { numRuns: NUM_RUNS },
    );
    expect(run).toBeGreaterThanOrEqual(NUM_RUNS);
  });
});
