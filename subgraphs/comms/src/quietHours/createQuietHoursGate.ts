import { inTransaction, setTenant, type PgClient, type PgPool } from '@coherence/platform';
import { randomUUID } from 'node:crypto';
import type { ClaimedCommand } from '../bus/createBusWorker';
import { CommandFailure } from '../errors';
import type { QuietHoursPolicy } from './loadQuietHoursPolicy';

export interface QuietHoursGateOptions {
  pool: PgPool;
  policy: QuietHoursPolicy;
  /** Stored with every decision, like the gateway's region. */
  region: string;
  /** Recorded as the decision's subject. */
  subject: string;
}

export type QuietHoursResult = { allowed: true } | { allowed: false; until: Date; reason: string };

/**
 * A policy error defers by 15 minutes (rather than notify at night); the
 * MAX_POLICY_ERROR_DEFERRALS-th policy error in a row for one command (after
 * three deferrals, 45 minutes) sends it to troubleshooting
 * (`QUIET_HOURS_POLICY_ERROR`) instead of deferring forever. An operator's
 * retry starts the count afresh.
 */
export const MAX_POLICY_ERROR_DEFERRALS = 4;
const POLICY_ERROR_DEFER_MINUTES = 15;

const minuteOfDay = (time: string) => {
  const [hours, minutes] = time.split(':').map(Number);
  return hours! * 60 + minutes!;
};

/** The local minute of the day (0..1439) in `timeZone`. */
export function localMinute(at: Date, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return part('hour') * 60 + part('minute');
}

/**
 * Asks the quiet-hours policy whether a command may be delivered now, and
 * records the decision (allowed or deferred) in `comms_policy_decisions`.
 * A deferral says until when: the minute the window ends. A policy error
 * defers by 15 minutes rather than notifying at night, at most
 * {@link MAX_POLICY_ERROR_DEFERRALS} times in a row; then it throws a
 * permanent {@link CommandFailure} (the decision is recorded first).
 */
export function createQuietHoursGate(options: QuietHoursGateOptions) {
  return async function check(command: ClaimedCommand): Promise<QuietHoursResult> {
    const at = new Date();
    const result = await inTransaction(options.pool, async (client) => {
      await setTenant(client, command.tenantId);
      const { rows } = await client.query<{ time_zone: string; starts_at: string; ends_at: string }>(
        'SELECT time_zone, starts_at::text, ends_at::text FROM comms_quiet_hours WHERE tenant_id = $1',
        [command.tenantId],
      );
      const window = rows[0];
      const verdict = options.policy.evaluate({
        localMinute: localMinute(at, window?.time_zone ?? 'UTC'),
        quietHours: window ? { startMinute: minuteOfDay(window.starts_at), endMinute: minuteOfDay(window.ends_at) } : null,
      });
      await client.query(
        `INSERT INTO comms_policy_decisions (decision_id, tenant_id, subject, client_id, operation_id, operation_type, allow,
           reason_code, explanation, bundle_sha256, correlation_id, region, decided_at)
         VALUES ($1, $2, $3, NULL, $4, 'dispatch', $5, $6, $7, $8, $9, $10, $11)`,
        [
          randomUUID(),
          command.tenantId,
          options.subject,
          `quiet-hours:${command.type}`,
          verdict.allow,
          verdict.reasonCode,
          verdict.explanation,
          options.policy.sha256,
          command.correlationId,
          options.region,
          at.toISOString(),
        ],
      );
      if (verdict.allow) return { allowed: true as const };
      const reason = `${verdict.reasonCode}: ${verdict.explanation}`;
      if (verdict.reasonCode !== 'QUIET_HOURS' && (await policyErrorDeferrals(client, command.commandId)) + 1 >= MAX_POLICY_ERROR_DEFERRALS)
        return { giveUp: reason };
      const deferMinutes = verdict.reasonCode === 'QUIET_HOURS' ? verdict.deferMinutes : POLICY_ERROR_DEFER_MINUTES;
      const startOfMinute = Math.floor(at.getTime() / 60_000) * 60_000;
      return { allowed: false as const, until: new Date(startOfMinute + deferMinutes * 60_000), reason };
    });
    if ('giveUp' in result)
      throw new CommandFailure(
        'QUIET_HOURS_POLICY_ERROR',
        `no quiet-hours decision after ${MAX_POLICY_ERROR_DEFERRALS} tries: ${result.giveUp}`,
      );
    return result;
  };
}

/** This command's deferrals for a policy error since an operator last retried it (the worker's audit rows). */
async function policyErrorDeferrals(client: PgClient, commandId: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM dispatch_audit
      WHERE command_id = $1 AND action = 'defer' AND reason NOT LIKE 'QUIET_HOURS:%'
        AND audit_id > coalesce((SELECT max(audit_id) FROM dispatch_audit
                                  WHERE command_id = $1 AND action = 'retry' AND actor LIKE 'operator%'), 0)`,
    [commandId],
  );
  return rows[0]!.n;
}

export type QuietHoursGate = ReturnType<typeof createQuietHoursGate>;
