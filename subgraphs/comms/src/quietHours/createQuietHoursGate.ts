import { inTransaction, setTenant, type PgPool } from '@coherence/platform';
import { randomUUID } from 'node:crypto';
import type { ClaimedCommand } from '../bus/createBusWorker';
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
 * defers by 15 minutes rather than notifying at night.
 */
export function createQuietHoursGate(options: QuietHoursGateOptions) {
  return async function check(command: ClaimedCommand): Promise<QuietHoursResult> {
    const at = new Date();
    return inTransaction(options.pool, async (client) => {
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
      const deferMinutes = verdict.reasonCode === 'QUIET_HOURS' ? verdict.deferMinutes : 15;
      const startOfMinute = Math.floor(at.getTime() / 60_000) * 60_000;
      return {
        allowed: false as const,
        until: new Date(startOfMinute + deferMinutes * 60_000),
        reason: `${verdict.reasonCode}: ${verdict.explanation}`,
      };
    });
  };
}

export type QuietHoursGate = ReturnType<typeof createQuietHoursGate>;
