import { inTransaction, type PgPool } from '@coherence/platform';
import { Gauge, type Registry } from 'prom-client';
import { setOperatorAccess } from './operatorAccess';

/** The states a command waits or runs in; succeeded and cancelled ones are history (comms_commands_finished_total counts runs). */
export const OPEN_COMMAND_STATES = ['pending', 'running', 'troubleshooting'] as const;

/**
 * `comms_open_commands{state}`: the commands of the tenants residing in the
 * worker's region, per open state, counted in the database when /metrics is
 * scraped. Read there rather than kept by the worker, so it is right while
 * every worker is stopped, and so that the troubleshooting queue's depth
 * counts the operator's retries and cancels too. Every worker of a region
 * reports the same numbers (dashboards take the max per region).
 */
export function registerOpenCommandsGauge(registry: Registry, pool: PgPool, region: string): void {
  new Gauge({
    name: 'comms_open_commands',
    help: "Commands of the worker's region by open state (pending, running, troubleshooting), counted at scrape time.",
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      const counts = await inTransaction(pool, async (client) => {
        await setOperatorAccess(client, region);
        const { rows } = await client.query<{ state: string; n: number }>(
          'SELECT state, count(*)::int AS n FROM dispatch_commands WHERE state = ANY($1::text[]) GROUP BY state',
          [OPEN_COMMAND_STATES],
        );
        return new Map(rows.map((row) => [row.state, row.n]));
        // An unreadable count must not take /metrics down with it; NaN says "unknown" where a stale count would mislead.
      }).catch(() => undefined);
      for (const state of OPEN_COMMAND_STATES) this.set({ state }, counts ? (counts.get(state) ?? 0) : Number.NaN);
    },
  });
}
