import { createCoherenceChangedMessage, type CoherenceChangedMessage, type CoherenceStatus } from '@coherence/contracts';

export interface TestChange {
  tenantId: string;
  score: number;
  status?: CoherenceStatus;
  /** The score's `updatedAt` (the read model row's); default `changedAt`. */
  updatedAt?: string;
  /** Default now. */
  changedAt?: string;
  correlationId?: string;
}

/**
 * A `CoherenceChanged` message as the relay publishes it, for a first score
 * from one source: what tests and benchmarks put on the channel themselves.
 */
export function coherenceChangedFor(change: TestChange): CoherenceChangedMessage {
  const { tenantId, score } = change;
  const changedAt = change.changedAt ?? new Date().toISOString();
  return createCoherenceChangedMessage({
    change: {
      tenantId,
      previous: null,
      current: {
        tenantId,
        score,
        status: change.status ?? 'CRITICAL',
        agreement: 1,
        window: 'PT24H',
        updatedAt: change.updatedAt ?? changedAt,
        sources: [{ source: 'api', score, count: 1 }],
      },
      changedAt,
    },
    timestamp: changedAt,
    correlationId: change.correlationId ?? `test-${tenantId}`,
  });
}
