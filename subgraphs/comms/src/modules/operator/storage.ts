import { inTransaction, type PgPool } from '@coherence/platform';
import { setOperatorAccess } from '../../bus/operatorAccess';
import { COMMS_DISPATCH_CHANNEL } from '../../bus/sendCommand';
import type { OperatorErrorCode } from '../../errors';

export type CommandState = 'pending' | 'running' | 'succeeded' | 'troubleshooting' | 'cancelled';

export interface CommandRow {
  command_id: string;
  tenant_id: string;
  type: string;
  state: CommandState;
  idempotency_key: string;
  correlation_id: string;
  attempts: number;
  max_attempts: number;
  run_after: Date;
  created_at: Date;
  updated_at: Date;
  /** `updated_at` to the microsecond, UTC ISO-8601: a JS Date keeps milliseconds only, too coarse for a keyset cursor. */
  updated_at_exact: string;
  last_error: { code: string; kind: string; message: string; attempt: number; at: string } | null;
}

export interface AuditRow {
  audit_id: string;
  command_id: string;
  actor: string;
  action: string;
  from_state: CommandState | null;
  to_state: CommandState;
  reason: string;
  correlation_id: string;
  occurred_at: Date;
}

export interface EnvelopeRow {
  envelope_id: string;
  tenant_id: string;
  channel: string;
  direction: string;
  provider: string;
  provider_message_id: string | null;
  correlation_id: string;
  received_at: Date;
  payload: unknown;
}

const COMMAND_COLUMNS = `command_id, tenant_id, type, state, idempotency_key, correlation_id, attempts, max_attempts,
  run_after, created_at, updated_at, last_error,
  to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at_exact`;

/** The operator actions and the states each applies to. */
export const OPERATOR_ACTIONS = {
  retry: { from: ['troubleshooting'], to: 'pending' },
  cancel: { from: ['pending', 'troubleshooting'], to: 'cancelled' },
  complete: { from: ['troubleshooting'], to: 'succeeded' },
} as const satisfies Record<string, { from: readonly CommandState[]; to: CommandState }>;
export type OperatorAction = keyof typeof OPERATOR_ACTIONS;

export type ActionResult = { ok: CommandRow } | { error: { code: OperatorErrorCode; message: string } };

/** Reads and changes commands across tenants, for operators (every query declares operator access). */
export function createOperatorStorage(pool: PgPool) {
  const asOperator = <T>(work: Parameters<typeof inTransaction<T>>[1]) =>
    inTransaction(pool, async (client) => {
      await setOperatorAccess(client);
      return work(client);
    });

  return {
    /** Troubleshooting commands, oldest first, keyset-paged on (updated_at, command_id); `after.at` is `updated_at_exact`. */
    troubleshooting: (filter: { tenantId?: string | null; type?: string | null }, first: number, after?: { at: string; id: string }) =>
      asOperator(async (client) => {
        const { rows } = await client.query<CommandRow>(
          `SELECT ${COMMAND_COLUMNS} FROM dispatch_commands
            WHERE state = 'troubleshooting'
              AND ($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR type = $2)
              AND ($3::timestamptz IS NULL OR (updated_at, command_id) > ($3::timestamptz, $4::uuid))
            ORDER BY updated_at, command_id LIMIT $5`,
          [filter.tenantId ?? null, filter.type ?? null, after?.at ?? null, after?.id ?? null, first + 1],
        );
        return rows;
      }),

    list: (
      filter: { status?: CommandState | null; type?: string | null; from?: string | null; to?: string | null; tenantId?: string | null },
      first: number,
    ) =>
      asOperator(async (client) => {
        const { rows } = await client.query<CommandRow>(
          `SELECT ${COMMAND_COLUMNS} FROM dispatch_commands
            WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR type = $2)
              AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)
              AND ($5::text IS NULL OR tenant_id = $5)
            ORDER BY created_at DESC, command_id LIMIT $6`,
          [filter.status ?? null, filter.type ?? null, filter.from ?? null, filter.to ?? null, filter.tenantId ?? null, first],
        );
        return rows;
      }),

    /** null when no such command exists. */
    audit: (commandId: string) =>
      asOperator(async (client) => {
        const exists = await client.query('SELECT 1 FROM dispatch_commands WHERE command_id = $1', [commandId]);
        if (exists.rowCount === 0) return null;
        const { rows } = await client.query<AuditRow>(
          `SELECT audit_id::text, command_id, actor, action, from_state, to_state, reason, correlation_id, occurred_at
             FROM dispatch_audit WHERE command_id = $1 ORDER BY dispatch_audit.audit_id`,
          [commandId],
        );
        return rows;
      }),

    messages: (tenantId: string, first: number) =>
      asOperator(async (client) => {
        const { rows } = await client.query<EnvelopeRow>(
          `SELECT envelope_id, tenant_id, channel, direction, provider, provider_message_id, correlation_id, received_at, payload
             FROM comms_envelopes WHERE tenant_id = $1 ORDER BY received_at DESC, envelope_id LIMIT $2`,
          [tenantId, first],
        );
        return rows;
      }),

    /** Applies an operator action with its audit row in one transaction; a typed error when it does not apply. */
    act: (action: OperatorAction, commandId: string, actor: string, reason: string, correlationId: string): Promise<ActionResult> =>
      asOperator(async (client) => {
        const { rows } = await client.query<CommandRow>(
          `SELECT ${COMMAND_COLUMNS} FROM dispatch_commands WHERE command_id = $1 FOR UPDATE`,
          [commandId],
        );
        const command = rows[0];
        if (!command) return { error: { code: 'COMMAND_NOT_FOUND', message: `no command ${commandId}` } };
        const rule = OPERATOR_ACTIONS[action];
        if (!(rule.from as readonly CommandState[]).includes(command.state)) {
          return {
            error: {
              code: 'INVALID_TRANSITION',
              message: `${action} applies to ${rule.from.join(' or ')} commands; this one is ${command.state}`,
            },
          };
        }
        // A retry starts the attempt count afresh: the operator has fixed (or accepted) the cause.
        const updated = await client.query<CommandRow>(
          `UPDATE dispatch_commands SET state = $2, updated_at = now(),
                  attempts = CASE WHEN $3 THEN 0 ELSE attempts END, run_after = CASE WHEN $3 THEN now() ELSE run_after END
            WHERE command_id = $1 RETURNING ${COMMAND_COLUMNS}`,
          [commandId, rule.to, action === 'retry'],
        );
        await client.query(
          `INSERT INTO dispatch_audit (command_id, tenant_id, actor, action, from_state, to_state, reason, correlation_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
          [commandId, command.tenant_id, actor, action, command.state, rule.to, reason, correlationId],
        );
        if (action === 'retry') await client.query('SELECT pg_notify($1, $2)', [COMMS_DISPATCH_CHANNEL, commandId]);
        return { ok: updated.rows[0]! };
      }),
  };
}

export type OperatorStorage = ReturnType<typeof createOperatorStorage>;
