import type { Scenario } from '../scenario';
import { readMetric, seen } from './support/metrics';

/** Redis stopped for the duration (docs/runbooks/drills/redis-down.md). */
export const redisDown: Scenario = {
  name: 'redis-down',
  summary: 'Redis stopped: reads served uncached, the limiter on its local fallback, subscriptions reconnect, no 5xx',
  promises: { no5xx: true },
  inject: (context) => context.dependencies.redis.stop(),
  async observe(context) {
    return seen({
      'gateway sees Redis up': await readMetric(context, 'gateway', 'gateway_redis_up'),
      'limiter on Redis': await readMetric(context, 'gateway', 'ratelimit_redis_available'),
      'limiter fallback decisions': await readMetric(context, 'gateway', 'ratelimit_fallback_decisions_total'),
      'cache errors (reads served uncached)': await readMetric(context, 'gateway', 'gateway_cache_errors_total'),
      'open subscriptions': await readMetric(context, 'gateway', 'subscription_active'),
    });
  },
  heal: (context) => context.dependencies.redis.start(),
};
