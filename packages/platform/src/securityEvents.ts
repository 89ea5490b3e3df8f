import { createTenantBatchWriter, type TenantBatchWriterOptions } from './createTenantBatchWriter';
import { inTransaction, setTenant, type PgPool } from './postgres';

/** Kinds of security event; extend here, never with free strings. */
export type SecurityEventKind =
  | 'AUTH_DENY'
  | 'TENANT_MISMATCH'
  | 'RESIDENCY_VIOLATION'
  | 'URL_BLOCKED'
  | 'BREAK_GLASS'
  /** A request refused before it ran for what it sent (persisted id, input) or a kill switch; the error code is the reason. */
  | 'REQUEST_REFUSED'
  /** A signed artifact (policy bundle, persisted-operation manifest) taken into use; details name it, its version and signing key. */
  | 'ARTIFACT_ACTIVATED'
  /** A signed artifact refused (signature, rollback, content); the reason is the refusal code, the previous one stays active. */
  | 'ARTIFACT_REFUSED';

export interface SecurityEvent {
  kind: SecurityEventKind;
  /** The tenant the request claimed or targeted; '-' when none could be told. */
  tenantId: string;
  service: string;
  subject?: string;
  clientId?: string;
  reason: string;
  sourceIp?: string;
  correlationId: string;
  details?: Record<string, unknown>;
}

/** Persists one security event (its own transaction, under the event's tenant). */
export async function recordSecurityEvent(pool: PgPool, event: SecurityEvent): Promise<void> {
  await inTransaction(pool, async (client) => {
    await setTenant(client, event.tenantId);
    await client.query(
      `INSERT INTO security_events (tenant_id, kind, service, subject, client_id, reason, source_ip, correlation_id, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        event.tenantId,
        event.kind,
        event.service,
        event.subject ?? null,
        event.clientId ?? null,
        event.reason,
        event.sourceIp ?? null,
        event.correlationId,
        JSON.stringify(event.details ?? {}),
      ],
    );
  });
}

export interface SecurityEventWriterOptions extends Pick<
  TenantBatchWriterOptions<SecurityEvent>,
  'logger' | 'flushMs' | 'batchSize' | 'maxPending' | 'onDropped'
> {
  pool: PgPool;
  /** Events alike (below) written as their own rows each minute before the rest are aggregated. Default 20. */
  individualPerMinute?: number;
  /** For the aggregation's minute; `Date.now` but in tests. */
  now?: () => number;
}

/** Distinct kinds of event counted per minute at most; past it, every further event is aggregated (a flood from many addresses). */
const MAX_COUNTED_KEYS = 100_000;

/** Events alike in all but their correlation id and details, within one minute. */
function aggregateKey(event: SecurityEvent, minute: number): string {
  return JSON.stringify([event.kind, event.tenantId, event.service, event.subject, event.clientId, event.reason, event.sourceIp, minute]);
}

/**
 * Security events written off the request path, batched like policy
 * decisions ({@link createTenantBatchWriter}). Each event is its own row
 * (findable by its correlation id) until a flood: past `individualPerMinute`
 * events of the same kind, tenant, subject, client, reason and address in one
 * minute, the rest are aggregated between two writes into one row whose
 * `details.count` says how many there were; it keeps the first folded event's
 * correlation id and details, and `details.lastCorrelationId` the last one's.
 */
export function createSecurityEventWriter(options: SecurityEventWriterOptions) {
  const now = options.now ?? Date.now;
  const individualPerMinute = options.individualPerMinute ?? 20;
  let minute = Number.NaN;
  const seenThisMinute = new Map<string, number>();
  /** The event's aggregate key once it is part of a flood; undefined while it is still written alone. */
  function floodKey(event: SecurityEvent): string | undefined {
    const current = Math.floor(now() / 60_000);
    if (current !== minute) {
      minute = current;
      seenThisMinute.clear();
    }
    const key = aggregateKey(event, current);
    const seen = seenThisMinute.get(key) ?? (seenThisMinute.size >= MAX_COUNTED_KEYS ? Infinity : 0);
    if (seen !== Infinity) seenThisMinute.set(key, seen + 1);
    return seen >= individualPerMinute ? key : undefined;
  }
  const writer = createTenantBatchWriter<SecurityEvent>({
    ...options,
    what: 'security events',
    tenantOf: (event) => event.tenantId,
    // One round trip for the whole batch: the function sets each event's tenant (platform migration 003).
    insert: (events) =>
      options.pool.query(
        `SELECT security_events_insert($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
           $8::text[], $9::jsonb[])`,
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
      ),
    aggregate: {
      key: floodKey,
      merge: (into, event) => ({
        ...into,
        details: { ...into.details, count: Number(into.details?.['count'] ?? 1) + 1, lastCorrelationId: event.correlationId },
      }),
    },
  });
  return {
    /** Queues one event; never waits and never throws. */
    record: writer.record,
    flush: writer.flush,
    close: writer.close,
  };
}

export type SecurityEventWriter = ReturnType<typeof createSecurityEventWriter>;
