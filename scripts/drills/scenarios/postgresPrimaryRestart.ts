import type { Scenario } from '../scenario';
import { isReady, readMetric, seen } from './support/metrics';

/**
 * A fast restart of the Postgres primary under load: connections cut,
 * in-flight transactions rolled back, committed ones kept
 * (docs/runbooks/drills/postgres-primary-restart.md).
 */
export const postgresPrimaryRestart: Scenario = {
  name: 'postgres-primary-restart',
  summary: 'fast restart of the Postgres primary: acknowledged writes survive, clients get 503 with Retry-After, never a 500',
  promises: { no5xx: true, allow503: true },
  inject: (context) => context.dependencies.postgresPrimary.restart(),
  async observe(context) {
    return seen({
      'ingest ready again': await isReady(context, 'ingest'),
      'gateway ready again': await isReady(context, 'gateway'),
      'consumer store retries (database unavailable)': await readMetric(context, 'ingest-consumer', 'ingest_consumer_store_retries_total', {
        kind: 'transient',
      }),
      'outbox backlog': await readMetric(context, 'ingest', 'ingest_backlog'),
    });
  },
  // The restart is the whole fault: the primary is back when inject resolves.
  heal: async () => undefined,
};
