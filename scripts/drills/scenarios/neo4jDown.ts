import type { Scenario } from '../scenario';
import { isReady, readMetric, seen } from './support/metrics';

/** Neo4j stopped for the duration (docs/runbooks/drills/neo4j-down.md). */
export const neo4jDown: Scenario = {
  name: 'neo4j-down',
  summary: 'Neo4j stopped: ingest keeps accepting, the relay backs off and catches up, reads serve the last score with its asOf',
  promises: { no5xx: true, maxCatchUpMs: 120_000 },
  inject: (context) => context.dependencies.neo4j.stop(),
  async observe(context) {
    return seen({
      'outbox backlog (waiting for the graph)': await readMetric(context, 'ingest', 'ingest_backlog'),
      'oldest unprojected event (s)': await readMetric(context, 'ingest', 'ingest_outbox_lag_seconds'),
      'relay event failures (backing off)': await readMetric(context, 'relay', 'relay_event_failures_total'),
      'relay stalled': await readMetric(context, 'relay', 'relay_stalled'),
      'coherence ready (score reads need Postgres only)': await isReady(context, 'coherence'),
    });
  },
  heal: (context) => context.dependencies.neo4j.start(),
};
