import { createCoherenceChangedMessage, type CoherenceStatus } from '@coherence/contracts';
import { expect, it } from 'vitest';
import { isNotifiable } from './createChangeListener';

const scoreOf = { HEALTHY: 0.9, WARN: 0.6, CRITICAL: 0.2, UNKNOWN: null } as const;

function change(previous: CoherenceStatus | null, status: CoherenceStatus) {
  const score = scoreOf[status];
  return createCoherenceChangedMessage({
    change: {
      tenantId: 'acme',
      previous: previous ? { status: previous, score: scoreOf[previous] } : null,
      current:
        score === null
          ? { tenantId: 'acme', score: null, status, agreement: null, window: 'PT24H', updatedAt: '2026-01-01T00:00:00Z', sources: [] }
          : {
              tenantId: 'acme',
              score,
              status,
              agreement: 1,
              window: 'PT24H',
              updatedAt: '2026-01-01T00:00:00Z',
              sources: [{ source: 's', score, count: 1 }],
            },
      changedAt: '2026-01-01T00:00:00Z',
    },
    timestamp: '2026-01-01T00:00:00Z',
    correlationId: 'c',
  });
}

it.each([
  [null, 'WARN', true],
  [null, 'CRITICAL', true],
  ['HEALTHY', 'WARN', true],
  ['WARN', 'CRITICAL', true],
  ['CRITICAL', 'WARN', true],
  ['WARN', 'HEALTHY', true],
  ['CRITICAL', 'HEALTHY', true],
  [null, 'HEALTHY', false],
  ['UNKNOWN', 'HEALTHY', false],
  ['HEALTHY', 'UNKNOWN', false],
  ['WARN', 'UNKNOWN', false],
  ['WARN', 'WARN', false],
] as const)('%s → %s notifies: %s', (previous, status, expected) => {
  expect(isNotifiable(change(previous, status))).toBe(expected);
});
