import { describe, expect, it } from 'vitest';
import { aggregateBySource, computeCoherence, statusOf } from './computeCoherence';

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
    expect(result).toEqual({ score: 0.7, status: 'WARN', agreement: 1, sources: [{ source: 'api', score: 0.7, count: 2 }] });
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
    expect(result.sources[1]).toEqual({ source: 'mid', score: 0.3333, count: 1 });
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
    expect(result).toEqual({ score: 0.6, status: 'WARN', agreement: 1, sources: [{ source: 'real', score: 0.6, count: 1 }] });
  });

  it('sums aggregates that name the same source before scoring it', () => {
    const result = computeCoherence([
      { source: 'api', weightedSum: 0.9, weightSum: 1, count: 1 },
      { source: 'db', weightedSum: 0.2, weightSum: 1, count: 1 },
      { source: 'api', weightedSum: 0.5, weightSum: 1, count: 1 },
    ]);
    // api: (0.9 + 0.5) / 2 = 0.7; db 0.2; all: 1.6 / 3
    expect(result.sources).toEqual([
      { source: 'api', score: 0.7, count: 2 },
      { source: 'db', score: 0.2, count: 1 },
    ]);
    expect(result.score).toBe(0.5333);
    expect(result.agreement).toBe(0.5);
  });
});
