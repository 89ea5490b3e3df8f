import { SIGNALS_ACCEPTED, TENANT_AGGREGATE, type AcceptedSignal, type SignalsAcceptedEvent } from '@coherence/contracts';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';

/** What a test says of a signal; the rest is filled in as ingest would. */
export interface TestSignal {
  source: string;
  value: number;
  weight?: number;
  /** Default: a fresh UUID. */
  signalId?: string;
  /** Default: one minute ago. */
  ts?: string;
}

/**
 * A `SignalsAccepted` outbox event as ingest writes it, for tests and
 * benchmarks that feed the relay directly: provenance, type and receive
 * time are fixed test values.
 */
export function signalsAcceptedEventFor(
  tenantId: string,
  signals: readonly TestSignal[],
  options: { correlationId?: string; timestamp?: string } = {},
): SignalsAcceptedEvent {
  const timestamp = options.timestamp ?? new Date().toISOString();
  const minuteAgo = new Date(Date.parse(timestamp) - 60_000).toISOString();
  return {
    messageId: randomUUID(),
    tenantId,
    aggregateType: TENANT_AGGREGATE,
    aggregateId: tenantId,
    type: SIGNALS_ACCEPTED,
    timestamp,
    correlationId: options.correlationId ?? 'test',
    causationId: null,
    schemaVersion: 1,
    payload: {
      signals: signals.map((signal): AcceptedSignal => ({
        tenantId,
        source: signal.source,
        signalId: signal.signalId ?? randomUUID(),
        ts: signal.ts ?? minuteAgo,
        type: 'health',
        value: signal.value,
        weight: signal.weight ?? 1,
        provenance: { purpose: 'test', retention: 'P30D', license: 'internal', residency: 'us' },
        receivedAt: timestamp,
      })),
    },
  };
}

/**
 * Appends events to the outbox as ingest would, in one statement (so a
 * running relay sees them together, in this order); returns their ids in
 * the order given.
 */
export async function appendOutboxEvents(pool: pg.Pool, events: readonly SignalsAcceptedEvent[]): Promise<string[]> {
  const values = events.map((_, i) => `($${i * 4 + 1}, $${i * 4 + 2}::uuid, $${i * 4 + 3}, $${i * 4 + 4}::jsonb)`);
  const { rows } = await pool.query<{ id: string; message_id: string }>(
    `INSERT INTO outbox (tenant_id, message_id, type, envelope) VALUES ${values.join(', ')} RETURNING id, message_id`,
    events.flatMap((event) => [event.tenantId, event.messageId, event.type, JSON.stringify(event)]),
  );
  const idByMessage = new Map(rows.map((row) => [row.message_id, row.id]));
  return events.map((event) => idByMessage.get(event.messageId)!);
}
