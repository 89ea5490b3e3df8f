import { inTransaction, setTenant, type Logger, type PgPool, type SecurityEvent } from '@coherence/platform';

export interface SecurityEventQueueOptions {
  pool: PgPool;
  logger: Logger;
  /** Write at least this often while events are waiting. */
  flushMs: number;
  /** Write at once when this many are waiting. */
  batchSize: number;
  /** Beyond this many unwritten events, new ones are dropped and counted: a flood of refusals must not grow the heap. */
  maxPending: number;
  /** Called with the number of events dropped: `overflow` when the queue was full, `failed` when their write failed. */
  onDropped: (count: number, reason: 'overflow' | 'failed') => void;
}

/**
 * Writes security events off the request path: `record` only appends to a
 * bounded queue; a timer (or a full batch) writes it in one transaction, one
 * multi-row insert per tenant (row-level security needs the tenant set per
 * insert). A refusal is answered without waiting for its row, and a flood of
 * refusals costs one write per batch, not one per request. A failed write is
 * logged and counted, not retried: the queue stays bounded while Postgres is
 * down, and `gateway_security_events_dropped_total` shows what was lost.
 */
export function createSecurityEventQueue(options: SecurityEventQueueOptions) {
  let pending: SecurityEvent[] = [];
  let flushing: Promise<void> | undefined;
  const timer = setInterval(() => void flushOnce(), options.flushMs);
  timer.unref();

  async function write(batch: readonly SecurityEvent[]): Promise<void> {
    const byTenant = new Map<string, SecurityEvent[]>();
    for (const event of batch) byTenant.set(event.tenantId, [...(byTenant.get(event.tenantId) ?? []), event]);
    await inTransaction(options.pool, async (client) => {
      for (const [tenantId, events] of byTenant) {
        await setTenant(client, tenantId);
        await client.query(
          `INSERT INTO security_events (tenant_id, kind, service, subject, client_id, reason, source_ip, correlation_id, details)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[])`,
          [
            events.map((e) => e.tenantId),
            events.map((e) => e.kind),
            events.map((e) => e.service),
            events.map((e) => e.subject ?? null),
            events.map((e) => e.clientId ?? null),
            events.map((e) => e.reason),
            events.map((e) => e.sourceIp ?? null),
            events.map((e) => e.correlationId),
            events.map((e) => JSON.stringify(e.details ?? {})),
          ],
        );
      }
    });
  }

  async function flushOnce(): Promise<void> {
    if (flushing) await flushing;
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    flushing = write(batch).catch((error: unknown) => {
      options.logger.error({ err: error, events: batch.length }, 'writing security events failed; dropped');
      options.onDropped(batch.length, 'failed');
    });
    try {
      await flushing;
    } finally {
      flushing = undefined;
    }
  }

  async function flushAll(): Promise<void> {
    while (pending.length > 0 || flushing) await flushOnce();
  }

  return {
    /** Queues one event; never waits and never throws. */
    record(event: SecurityEvent): void {
      if (pending.length >= options.maxPending) {
        options.onDropped(1, 'overflow');
        return;
      }
      pending.push(event);
      if (pending.length >= options.batchSize) void flushOnce();
    },

    /** Writes everything queued now; for tests and shutdown. */
    flush: flushAll,

    /** Stops the timer and writes what is still queued. */
    async close(): Promise<void> {
      clearInterval(timer);
      await flushAll();
    },
  };
}

export type SecurityEventQueue = ReturnType<typeof createSecurityEventQueue>;
