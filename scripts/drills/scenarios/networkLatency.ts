import type { Scenario } from '../scenario';
import { latencyControl } from './support/latency';
import { readMetric, seen } from './support/metrics';

/** One-way delay added between the application and each of Postgres, Neo4j and Redis (docs/runbooks/drills/network-latency.md). */
export const NETWORK_ADDED_LATENCY_MS = 50;
const targets = ['postgres', 'neo4j', 'redis'] as const;

export const networkLatency: Scenario = {
  name: 'network-latency',
  summary: `${NETWORK_ADDED_LATENCY_MS} ms added each way between the application and Postgres, Neo4j and Redis: slower, never failing`,
  promises: { no5xx: true },
  needsOwnApplication: true,
  async inject(context) {
    for (const target of targets) latencyControl(context, 'network-latency').set(target, NETWORK_ADDED_LATENCY_MS);
  },
  async observe(context) {
    return seen({
      'added latency (ms, each way)': NETWORK_ADDED_LATENCY_MS,
      'oldest unprojected event (s)': await readMetric(context, 'ingest', 'ingest_outbox_lag_seconds'),
      'limiter on Redis': await readMetric(context, 'gateway', 'ratelimit_redis_available'),
      'limiter fallback decisions': await readMetric(context, 'gateway', 'ratelimit_fallback_decisions_total'),
    });
  },
  async heal(context) {
    for (const target of targets) latencyControl(context, 'network-latency').set(target, 0);
  },
};
