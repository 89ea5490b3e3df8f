import { dispatchCommandSchema, type DispatchCommand } from '@coherence/contracts';
import { inTransaction, setTenant, type PgPool } from '@coherence/platform';
import { traceHeadersOf, type TraceHeaders } from '@coherence/telemetry';

/** Postgres NOTIFY channel that wakes workers when a command is sent (per database). */
export const COMMS_DISPATCH_CHANNEL = 'comms_dispatch';

export interface SendResult {
  commandId: string;
  /** False when the idempotency key was already used: nothing was created. */
  created: boolean;
}

/**
 * Puts a command on the bus. Same tenant + idempotency key ⇒ the first
 * command's id comes back and nothing is created. The insert, its audit row
 * and the NOTIFY commit together, so a worker is woken only for a command it
 * can see. The command keeps the trace it was sent in, which the worker
 * running it continues.
 */
export async function sendCommand(pool: PgPool, input: DispatchCommand, actor = 'system:comms'): Promise<SendResult> {
  const command = dispatchCommandSchema.parse(input);
  return inTransaction(pool, async (client) => {
    await setTenant(client, command.tenantId);
    const inserted = await client.query<{ command_id: string }>(
      `INSERT INTO dispatch_commands (command_id, tenant_id, type, idempotency_key, correlation_id, state, payload, max_attempts, run_after, trace_headers)
       VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, COALESCE($8::timestamptz, now()), $9)
       ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
       RETURNING command_id`,
      [
        command.commandId,
        command.tenantId,
        command.type,
        command.idempotencyKey,
        command.correlationId,
        JSON.stringify(command.payload),
        command.maxAttempts,
        command.notBefore ?? null,
        traced(traceHeadersOf()),
      ],
    );
    if (inserted.rowCount === 0) {
      const existing = await client.query<{ command_id: string }>(
        'SELECT command_id FROM dispatch_commands WHERE tenant_id = $1 AND idempotency_key = $2',
        [command.tenantId, command.idempotencyKey],
      );
      return { commandId: existing.rows[0]!.command_id, created: false };
    }
    await client.query(
      `INSERT INTO dispatch_audit (command_id, tenant_id, actor, action, from_state, to_state, reason, correlation_id)
       VALUES ($1, $2, $3, 'send', NULL, 'pending', $4, $5)`,
      [command.commandId, command.tenantId, actor, `sent (${command.type})`, command.correlationId],
    );
    await client.query('SELECT pg_notify($1, $2)', [COMMS_DISPATCH_CHANNEL, command.commandId]);
    return { commandId: command.commandId, created: true };
  });
}

/** The trace headers as stored: NULL when the command was sent outside any trace. */
const traced = (headers: TraceHeaders): string | null => (headers.traceparent === undefined ? null : JSON.stringify(headers));
