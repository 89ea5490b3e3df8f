import { inTransaction, setTenant, type PgPool } from './postgres';

/** Kinds of security event; extend here, never with free strings. */
export type SecurityEventKind =
  | 'AUTH_DENY'
  | 'TENANT_MISMATCH'
  | 'RESIDENCY_VIOLATION'
  | 'URL_BLOCKED'
  | 'BREAK_GLASS'
  /** A request refused before it ran for what it sent (persisted id, input) or a kill switch; the error code is the reason. */
  | 'REQUEST_REFUSED';

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
