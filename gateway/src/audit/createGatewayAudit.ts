import { createSecurityEventWriter, type Logger, type PgPool } from '@coherence/platform';
import { createAuthDenialRecorder } from '../auth/createAuthDenialRecorder';
import type { SecurityMetrics } from '../createSecurityMetrics';
import { createDecisionRecorder } from '@coherence/policy';

export interface GatewayAuditOptions {
  pool: PgPool;
  logger: Logger;
  /** The gateway's region, stored with every decision. */
  region: string;
  /** Both writers write at least this often… */
  flushMs: number;
  /** …or as soon as this many rows are waiting. */
  batchSize: number;
  metrics: SecurityMetrics;
  /** Check each decision against its contracts before queueing it (outside production; see createDecisionRecorder). */
  checkContracts: boolean;
}

/** Unwritten security events kept at most (about 1 KB each): beyond it a flood is counted, not stored. */
const SECURITY_EVENT_QUEUE_MAX = 10_000;

/**
 * The gateway's audit trail: policy decisions and security events (denials,
 * refused ids and input, kill switches, tenant mismatches), each queued by
 * the request and written in batches per tenant on one cadence (ADR 0002), so
 * no refusal costs a database write of its own.
 */
export function createGatewayAudit(options: GatewayAuditOptions) {
  const { pool, logger, flushMs, batchSize, metrics } = options;
  const decisions = createDecisionRecorder({
    pool,
    logger,
    region: options.region,
    flushMs,
    batchSize,
    checkContracts: options.checkContracts,
    onDropped: (count, reason) => metrics.decisionsDropped.inc({ reason }, count),
  });
  const securityEvents = createSecurityEventWriter({
    pool,
    logger,
    flushMs,
    batchSize,
    maxPending: SECURITY_EVENT_QUEUE_MAX,
    onDropped: (count, reason) => metrics.securityEventsDropped.inc({ reason }, count),
  });
  return {
    decisions,
    securityEvents,
    recordAuthDenial: createAuthDenialRecorder({ events: securityEvents, metrics }),
    /** Writes what both have queued; after the server has drained, no request can add more. */
    async close(): Promise<void> {
      await decisions.close();
      await securityEvents.close();
    },
  };
}

export type GatewayAudit = ReturnType<typeof createGatewayAudit>;
