import { MAX_SIGNAL_WEIGHT, MIN_SIGNAL_WEIGHT, signalSchema, type Signal } from '@coherence/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aggregateBySource, computeCoherence, statusOf, type Coherence, type SourceAggregate } from './computeCoherence';

describe('statusOf', () => {
  it.each([
    [null, 'UNKNOWN'],
    [1, 'HEALTHY'],
    [0.75, 'HEALTHY'],
    [0.7499, 'WARN'],
    [0.5, 'WARN'],
    [0.4999, 'CRITICAL'],
    [0, 'CRITICAL'],
  ] as const)('%s → %s', (score, status) => {
    expect(statusOf(score)).toBe(status);
  });
});

describe('computeCoherence', () => {
  it('is UNKNOWN with nulls when the window holds no signal', () => {
    expect(computeCoherence([])).toEqual({ score: null, status: 'UNKNOWN', agreement: null, sources: [] });
    expect(computeCoherence([{ source: 'a', weightedSum: 0, weightSum: 0, count: 0 }]).status).toBe('UNKNOWN');
  });

  it('weights values, rounds to 4 decimals and has agreement 1 with one source', () => {
    // (2·0.9 + 1·0.3) / 3 = 0.7
    const result = computeCoherence(
      aggregateBySource([
        { source: 'api', value: 0.9, weight: 2 },
        { source: 'api', value: 0.3, weight: 1 },
      ]),
    );
    expect(result).toEqual({ score: 0.7, status: 'WARN', agreement: 1, sources: [{ source: 'api', score: 0.7, count: 2, weight: 3 }] });
  });

  it('computes agreement from the spread of per-source means and sorts sources by name', () => {
    const result = computeCoherence(
      aggregateBySource([
        { source: 'zeta', value: 0.2, weight: 1 },
        { source: 'alpha', value: 0.9, weight: 1 },
        { source: 'alpha', value: 0.7, weight: 1 },
        { source: 'mid', value: 1 / 3, weight: 3 },
      ]),
    );
    // Σw·v = 0.2 + 1.6 + 1 = 2.8 over Σw = 6 → 0.46667; means 0.8, 0.3333, 0.2
    expect(result.score).toBe(0.4667);
    expect(result.status).toBe('CRITICAL');
    expect(result.agreement).toBe(0.4);
    expect(result.sources.map((s) => s.source)).toEqual(['alpha', 'mid', 'zeta']);
    expect(result.sources[1]).toEqual({ source: 'mid', score: 0.3333, count: 1, weight: 3 });
  });

  it('reads the status off the rounded score', () => {
    // 0.74995 rounds to 0.75 → HEALTHY, as a client reading 0.75 would expect.
    const result = computeCoherence([{ source: 's', weightedSum: 0.74995, weightSum: 1, count: 1 }]);
    expect(result.score).toBe(0.75);
    expect(result.status).toBe('HEALTHY');
  });

  it('gives the same answer whatever the input order', () => {
    const signals = [
      { source: 'b', value: 0.1, weight: 0.5 },
      { source: 'a', value: 0.95, weight: 4 },
      { source: 'b', value: 0.6, weight: 1 },
    ];
    expect(computeCoherence(aggregateBySource(signals))).toEqual(computeCoherence(aggregateBySource([...signals].reverse())));
  });

  it('ignores aggregates with no signal or no weight', () => {
    const result = computeCoherence([
      { source: 'empty', weightedSum: 0, weightSum: 0, count: 0 },
      { source: 'weightless', weightedSum: 0, weightSum: 0, count: 2 },
      { source: 'real', weightedSum: 0.6, weightSum: 1, count: 1 },
    ]);
    expect(result).toEqual({ score: 0.6, status: 'WARN', agreement: 1, sources: [{ source: 'real', score: 0.6, count: 1, weight: 1 }] });
  });

  it('sums aggregates that name the same source before scoring it', () => {
    const result = computeCoherence([
      { source: 'api', weightedSum: 0.9, weightSum: 1, count: 1 },
      { source: 'db', weightedSum: 0.2, weightSum: 1, count: 1 },
      { source: 'api', weightedSum: 0.5, weightSum: 1, count: 1 },
    ]);
    // api: (0.9 + 0.5) / 2 = 0.7; db 0.2; all: 1.6 / 3
    expect(result.sources).toEqual([
      { source: 'api', score: 0.7, count: 2, weight: 2 },
      { source: 'db', score: 0.2, count: 1, weight: 1 },
    ]);
    expect(result.score).toBe(0.5333);
    expect(result.agreement).toBe(0.5);
  });
});

describe('computeCoherence is total', () => {
  it('scores a source whose parts add up past the largest double: the 1e308 batch of issue 12 is 0.5, WARN', () => {
    // Two parts of one source (a caller may aggregate by finer keys): Σw = 2e308 overflows a plain sum.
    const half = { source: 'api', weightedSum: 0.5e308, weightSum: 1e308, count: 1 };
    expect(computeCoherence([half, half])).toEqual({
      score: 0.5,
      status: 'WARN',
      agreement: 1,
      sources: [{ source: 'api', score: 0.5, count: 2, weight: Number.MAX_VALUE }],
    });
  });

  it('adds sources near the largest double without overflow, and keeps a light source’s mean next to them', () => {
    const result = computeCoherence([
      { source: 'heavy-a', weightedSum: 0.9 * Number.MAX_VALUE, weightSum: Number.MAX_VALUE, count: 3 },
      { source: 'heavy-b', weightedSum: 0.7 * Number.MAX_VALUE, weightSum: Number.MAX_VALUE, count: 1 },
      { source: 'light', weightedSum: 0.3e-300, weightSum: 1e-300, count: 1 },
    ]);
    expect(result).toEqual({
      score: 0.8,
      status: 'HEALTHY',
      agreement: 0.4,
      sources: [
        { source: 'heavy-a', score: 0.9, count: 3, weight: Number.MAX_VALUE },
        { source: 'heavy-b', score: 0.7, count: 1, weight: Number.MAX_VALUE },
        { source: 'light', score: 0.3, count: 1, weight: 0 },
      ],
    });
  });

  it('leaves out aggregates whose sums are not finite, and is UNKNOWN when nothing else is left', () => {
    const broken: SourceAggregate[] = [
      { source: 'inf', weightedSum: Number.POSITIVE_INFINITY, weightSum: Number.POSITIVE_INFINITY, count: 2 },
      { source: 'nan', weightedSum: Number.NaN, weightSum: 1, count: 1 },
      { source: 'nan-weight', weightedSum: 0.5, weightSum: Number.NaN, count: 1 },
      { source: 'inf-value', weightedSum: Number.POSITIVE_INFINITY, weightSum: 3, count: 1 },
    ];
    expect(computeCoherence(broken)).toEqual({ score: null, status: 'UNKNOWN', agreement: null, sources: [] });
    const withReal = computeCoherence([...broken, { source: 'real', weightedSum: 1.2, weightSum: 2, count: 2 }]);
    expect(withReal).toEqual({ score: 0.6, status: 'WARN', agreement: 1, sources: [{ source: 'real', score: 0.6, count: 2, weight: 2 }] });
  });

  it('keeps a corrupt weighted sum (negative, or above the weight) inside [0, 1]', () => {
    const result = computeCoherence([
      { source: 'above', weightedSum: 1e300, weightSum: 1e-300, count: 1 },
      { source: 'below', weightedSum: -5, weightSum: 1, count: 1 },
      { source: 'noise', weightedSum: 1 + Number.EPSILON, weightSum: 1, count: 1 },
    ]);
    expect(result.sources).toEqual([
      { source: 'above', score: 1, count: 1, weight: 0 },
      { source: 'below', score: 0, count: 1, weight: 1 },
      { source: 'noise', score: 1, count: 1, weight: 1 },
    ]);
    expect(result.agreement).toBe(0);
    expect(result.score).toBe(0.5);
  });

  // 150,000 sources take well under a second alone, but more than vitest's 5 s default on a machine busy with the whole suite.
  it("reports a source's weight as its Σw, the largest double when that overflows", () => {
    const result = computeCoherence([
      { source: 'huge', weightedSum: 1e305, weightSum: 1e305, count: 1 },
      { source: 'small', weightedSum: 0.123_456, weightSum: 0.246_912, count: 2 },
    ]);
    // 1e305 cannot be rounded to 4 decimals in a double (×10⁴ overflows): it is reported as it is.
    expect(result.sources.map((s) => s.weight)).toEqual([1e305, 0.2469]);
  });

  it('handles more sources than a spread argument list can hold', () => {
    const many = Array.from({ length: 150_000 }, (_, i) => ({ source: `s${i}`, weightedSum: i % 2, weightSum: 1, count: 1 }));
    expect(computeCoherence(many)).toMatchObject({ score: 0.5, agreement: 0 });
  }, 30_000);
});

/** What an accepted signal may carry: weights over the whole range with its ends, values with 0 and 1 exactly. */
const acceptedWeight = fc.oneof(
  fc.constantFrom(MIN_SIGNAL_WEIGHT, 1, MAX_SIGNAL_WEIGHT),
  fc.double({ min: MIN_SIGNAL_WEIGHT, max: MAX_SIGNAL_WEIGHT, noNaN: true }),
);
const acceptedValue = fc.oneof(fc.constantFrom(0, 1, 0.5, Number.MIN_VALUE), fc.double({ min: 0, max: 1, noNaN: true }));
const acceptedSignal = fc
  .record({
    source: fc.constantFrom('api', 'db', 'queue', 'é-source', '😀'),
    value: acceptedValue,
    weight: fc.option(acceptedWeight, { nil: undefined }),
  })
  .map(({ weight, ...rest }): Signal => {
    // Through the real schema: the property is about what ingest accepts, not about what the generator thinks it accepts.
    const input = {
      tenantId: 'acme',
      signalId: 's',
      ts: '2024-05-01T12:00:00Z',
      type: 't',
      ...rest,
      ...(weight === undefined ? {} : { weight }),
    };
    return signalSchema.parse(input);
  });

function expectWellFormed(result: Coherence, batch: readonly Signal[]): void {
  const inUnit = (x: number | null) => x !== null && Number.isFinite(x) && x >= 0 && x <= 1;
  expect(inUnit(result.score), `score ${result.score}`).toBe(true);
  expect(inUnit(result.agreement), `agreement ${result.agreement}`).toBe(true);
  expect(result.status).toBe(statusOf(result.score));
  for (const source of result.sources) expect(inUnit(source.score), `${source.source} ${source.score}`).toBe(true);
  expect(result.sources.reduce((n, s) => n + s.count, 0)).toBe(batch.length);
  expect(result.sources.map((s) => s.source)).toEqual([...new Set(batch.map((s) => s.source))].sort());
}

describe('computeCoherence over arbitrary accepted batches (fast-check)', () => {
  it('is finite, within [0, 1], with the status read off the score and every signal counted', () => {
    fc.assert(
      fc.property(fc.array(acceptedSignal, { minLength: 1, maxLength: 60 }), (batch) => {
        expectWellFormed(computeCoherence(aggregateBySource(batch)), batch);
      }),
      { numRuns: 500 },
    );
  });

  it('scores a batch whose values are all v within half a rounding step of v, whatever the weights', () => {
    fc.assert(
      fc.property(acceptedValue, fc.array(acceptedSignal, { minLength: 1, maxLength: 40 }), (value, signals) => {
        const batch = signals.map((s) => ({ ...s, value }));
        const result = computeCoherence(aggregateBySource(batch));
        expectWellFormed(result, batch);
        expect(Math.abs(result.score! - value)).toBeLessThanOrEqual(0.000_05 + 1e-12);
        expect(result.agreement).toBe(1);
      }),
      { numRuns: 300 },
    );
  });

  it('gives exactly what plain sums give for accepted batches (the scaling changes no result)', () => {
    fc.assert(
      fc.property(fc.array(acceptedSignal, { minLength: 1, maxLength: 60 }), (batch) => {
        const aggregates = aggregateBySource(batch);
        expect(computeCoherence(aggregates)).toEqual(plainSumCoherence(aggregates));
      }),
      { numRuns: 500 },
    );
  });

  it('is total over arbitrary finite aggregates too, however large or corrupt', () => {
    const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
    const aggregate = fc.record({
      source: fc.constantFrom('a', 'b', 'c'),
      weightedSum: finite,
      weightSum: finite,
      count: fc.integer({ min: -1, max: 1_000 }),
    });
    fc.assert(
      fc.property(fc.array(aggregate, { maxLength: 20 }), (aggregates) => {
        const result = computeCoherence(aggregates);
        const inUnit = (x: number | null) => x === null || (Number.isFinite(x) && x >= 0 && x <= 1);
        expect(inUnit(result.score) && inUnit(result.agreement) && result.sources.every((s) => inUnit(s.score))).toBe(true);
        expect(result.sources.every((s) => Number.isFinite(s.weight) && s.weight >= 0)).toBe(true);
        expect(result.status).toBe(statusOf(result.score));
      }),
      { numRuns: 1_000 },
    );
  });
});

/** The formula with plain sums, as it was before the overflow guards: the reference for ordinary input. */
function plainSumCoherence(aggregates: readonly SourceAggregate[]): Coherence {
  const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
  const weightedSum = aggregates.reduce((sum, a) => sum + a.weightedSum, 0);
  const weightSum = aggregates.reduce((sum, a) => sum + a.weightSum, 0);
  const means = aggregates.map((a) => a.weightedSum / a.weightSum);
  const score = round4(weightedSum / weightSum);
  return {
    score,
    status: statusOf(score),
    agreement: round4(1 - (Math.max(...means) - Math.min(...means))),
    sources: aggregates
      .map((a) => ({ source: a.source, score: round4(a.weightedSum / a.weightSum), count: a.count, weight: round4(a.weightSum) }))
      .sort((x, y) => (x.source < y.source ? -1 : 1)),
  };
}
