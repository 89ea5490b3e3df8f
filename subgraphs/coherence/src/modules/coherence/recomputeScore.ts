import { createCoherenceChangedMessage, type CoherenceChangedMessage, type CoherenceStatus } from '@coherence/contracts';
import type { PgClient } from '@coherence/platform';
import { traceHeadersOf } from '@coherence/telemetry';
import type { Driver } from 'neo4j-driver';
import { aggregateWindow } from '../../graph/signalGraph';
import { recordChange } from '../../relay/changeNotifications';
import { computeCoherence } from './computeCoherence';
import { upsertCoherenceScore } from './readModel';

/** The message that caused a recorded change, for correlation; its trace is the active context's. */
export interface ScoreChangeCause {
  correlationId: string;
  causationId: string | null;
}

export interface RecomputeOptions {
  asOf: Date;
  windowMs: number;
  windowIso: string;
  cause: ScoreChangeCause;
}

export interface RecomputedScore {
  score: number | null;
  status: CoherenceStatus;
  /** Score or status differ from the stored ones; then `change` is recorded in the score history. */
  changed: boolean;
  change?: { message: CoherenceChangedMessage; historyId: string };
}

/**
 * Recomputes a tenant's score from the graph and upserts the read model
 * inside the caller's transaction. A change of score or status is recorded in
 * the score history in the same transaction, to be published after COMMIT
 * (by the caller, or by the relay's sweep: changeNotifications.ts). Used by
 * the relay after each batch and by the graph rebuild after each tenant.
 */
export async function recomputeScore(
  client: PgClient,
  driver: Driver,
  tenantId: string,
  options: RecomputeOptions,
): Promise<RecomputedScore> {
  const { asOf, windowIso, cause } = options;
  const coherence = computeCoherence(await aggregateWindow(driver, tenantId, asOf, options.windowMs));
  const { previous, updatedAt } = await upsertCoherenceScore(client, tenantId, coherence, windowIso, asOf);
  const changed = previous?.score !== coherence.score || previous?.status !== coherence.status;
  if (!changed) return { score: coherence.score, status: coherence.status, changed };
  const message = createCoherenceChangedMessage({
    // changedAt is replaced by the commit time when published: subscribers measure fan-out latency from it.
    change: {
      tenantId,
      previous,
      current: { tenantId, ...coherence, window: windowIso, updatedAt, asOf: asOf.toISOString() },
      changedAt: updatedAt,
    },
    timestamp: updatedAt,
    correlationId: cause.correlationId,
    causationId: cause.causationId,
    // The trace of the caller's active span (the relay's span per tenant), so subscribers continue it.
    trace: traceHeadersOf(),
  });
  return { score: coherence.score, status: coherence.status, changed, change: { message, historyId: await recordChange(client, message) } };
}
