import type { Scenario } from '../scenario';
import { latencyControl } from './support/latency';
import { readMetric, seen } from './support/metrics';

/** One-way delay added to every chunk between the application and Redis (docs/runbooks/drills/redis-slow.md). */
export const REDIS_ADDED_LATENCY_MS = 300;

export const redisSlow: Scenario = {
  name: 'redis-slow',
  summary: `${REDIS_ADDED_LATENCY_MS} ms added on every Redis exchange: the limiter falls back rather than waits, no 5xx`,
  promises: { no5xx: true },
  needsOwnApplication: true,
  async inject(context) {
    latencyControl(context, 'redis-slow').set('redis', REDIS_ADDED_LATENCY_MS);
  },
  async observe(context) {
    return seen({
      'added latency (ms, each way)': REDIS_ADDED_LATENCY_MS,
      'gateway sees Redis up': await readMetric(context, 'gateway', 'gateway_redis_up'),
      'limiter on Redis': await readMetric(context, 'gateway', 'ratelimit_redis_available'),
      'limiter fallback decisions': await readMetric(context, 'gateway', 'ratelimit_fallback_decisions_total'),
      'cache errors (reads served uncached)': await readMetric(context, 'gateway', 'gateway_cache_errors_total'),
    });
  },
  async heal(context) {
    latencyControl(context, 'redis-slow').set('redis', 0);
  },
};
