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

/**
 * The condition every operator query puts on its rows: their tenant resides
 * in the gateway's region, parameter `$1` of every query here. Rows of other
 * regions are never read, so they cannot be told apart from rows that do not exist.
 */
const RESIDENT = `tenant_id IN (SELECT tenant_id FROM tenants WHERE residency = $1)`;

/**
 * Reads and changes commands across the tenants residing in `region` (the
 * region of the gateway that asked), for operators: every query declares
 * operator access and filters on the tenants' residency in SQL. One storage
 * serves one request and keeps the tenants whose rows it returned or changed
 * (`tenantsTouched`), which the gateway files its decision under.
 */
export function createOperatorStorage(pool: PgPool, region: string) {
  const touched = new Set<string>();
  const touch = <T extends { tenant_id: string }>(rows: T[]): T[] => {
    for (const row of rows) touched.add(row.tenant_id);
    return rows;
  };
  const asOperator = <T>(work: Parameters<typeof inTransaction<T>>[1]) =>
    inTransaction(pool, async (client) => {
      await setOperatorAccess(client, region);
      return work(client);
    });

  return {
    /** The tenants whose rows this storage has returned or changed so far. */
    tenantsTouched: (): string[] => [...touched],

    /**
     * Troubleshooting commands, oldest first, keyset-paged on (updated_at, command_id);
     * `after.at` is `updated_at_exact`. At most `first` rows; `hasNextPage` when more follow.
     */
    troubleshooting: (filter: { tenantId?: string | null; type?: string | null }, first: number, after?: { at: string; id: string }) =>
      asOperator(async (client) => {
        const { rows } = await client.query<CommandRow>(
          `SELECT ${COMMAND_COLUMNS} FROM dispatch_commands
            WHERE ${RESIDENT} AND state = 'troubleshooting'
              AND ($2::text IS NULL OR tenant_id = $2) AND ($3::text IS NULL OR type = $3)
              AND ($4::timestamptz IS NULL OR (updated_at, command_id) > ($4::timestamptz, $5::uuid))
            ORDER BY updated_at, command_id LIMIT $6`,
          [region, filter.tenantId ?? null, filter.type ?? null, after?.at ?? null, after?.id ?? null, first + 1],
        );
        return { rows: touch(rows.slice(0, first)), hasNextPage: rows.length > first };
      }),

    list: (
      filter: { status?: CommandState | null; type?: string | null; from?: string | null; to?: string | null; tenantId?: string | null },
      first: number,
    ) =>
      asOperator(async (client) => {
        const { rows } = await client.query<CommandRow>(
          `SELECT ${COMMAND_COLUMNS} FROM dispatch_commands
            WHERE ${RESIDENT} AND ($2::text IS NULL OR state = $2) AND ($3::text IS NULL OR type = $3)
              AND ($4::timestamptz IS NULL OR created_at >= $4) AND ($5::timestamptz IS NULL OR created_at < $5)
              AND ($6::text IS NULL OR tenant_id = $6)
            ORDER BY created_at DESC, command_id LIMIT $7`,
          [region, filter.status ?? null, filter.type ?? null, filter.from ?? null, filter.to ?? null, filter.tenantId ?? null, first],
        );
        return touch(rows);
      }),

    /** null when no such command exists in the region. */
    audit: (commandId: string) =>
      asOperator(async (client) => {
        const command = await client.query<{ tenant_id: string }>(
          `SELECT tenant_id FROM dispatch_commands WHERE ${RESIDENT} AND command_id = $2`,
          [region, commandId],
        );
        if (touch(command.rows).length === 0) return null;
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
             FROM comms_envelopes WHERE ${RESIDENT} AND tenant_id = $2 ORDER BY received_at DESC, envelope_id LIMIT $3`,
          [region, tenantId, first],
        );
        return touch(rows);
      }),

    /** Applies an operator action with its audit row in one transaction; a typed error when it does not apply. */
    act: (action: OperatorAction, commandId: string, actor: string, reason: string, correlationId: string): Promise<ActionResult> =>
      asOperator(async (client) => {
        const { rows } = await client.query<CommandRow>(
          `SELECT ${COMMAND_COLUMNS} FROM dispatch_commands WHERE ${RESIDENT} AND command_id = $2 FOR UPDATE`,
          [region, commandId],
        );
        const command = touch(rows)[0];
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
