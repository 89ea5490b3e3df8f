import type { Logger } from '@coherence/platform';
import { Redis } from 'ioredis';
import { Gauge, type Registry } from 'prom-client';

const WARN_EVERY_MS = 60_000;

export interface GatewayRedisOptions {
  url: string;
  /** A command slower than this is failed, so a paused or overloaded Redis costs a request this much at most. */
  commandTimeoutMs: number;
  logger: Logger;
  metrics: Registry;
}

/**
 * The Redis connection the cache and the limiter share. Both treat Redis as
 * an optimisation, never a dependency: commands fail fast (no offline queue,
 * no retries, a short timeout) and the caller then serves without it.
 * `failed`/`succeeded` log one line per outage (at most one a minute), not per request, and
 * ioredis reconnects by itself, so the gateway recovers with no operator.
 */
export function createGatewayRedis(options: GatewayRedisOptions) {
  const { logger } = options;
  const redis = new Redis(options.url, {
    commandTimeout: options.commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // Back within a second of Redis returning (ioredis' default backs off to 2 s).
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  });
  const up = new Gauge({
    name: 'gateway_redis_up',
    help: '1 while the cache/limiter Redis answers, 0 while requests are served without it.',
    registers: [options.metrics],
  });
  up.set(1);
  let healthy = true;
  let warnedAt = 0;
  let warned = false;
  // Connection errors also reach `failed` through the commands they fail; this only keeps ioredis from logging them itself.
  redis.on('error', () => undefined);

  return {
    redis,
    /** A command failed or timed out: the request goes on without Redis. */
    failed(use: string, error: unknown): void {
      if (!healthy) return;
      healthy = false;
      up.set(0);
      // A saturated process times out its own commands now and then: one warning per flapping minute is enough.
      if (Date.now() - warnedAt < WARN_EVERY_MS) return;
      warnedAt = Date.now();
      warned = true;
      logger.warn(
        { err: error, use },
        'gateway redis unavailable: serving without cache, limiter enforced in process, until it answers again',
      );
    },
    /** A command answered. */
    succeeded(): void {
      if (healthy) return;
      healthy = true;
      up.set(1);
      if (warned) logger.info('gateway redis answers again: cache and limiter resumed');
      warned = false;
    },
    /**
     * Resolves once connected, or after `timeoutMs` whatever the state: the
     * first requests then use Redis, and a Redis that is down delays the start
     * by `timeoutMs` only.
     */
    async connected(timeoutMs: number): Promise<void> {
      if (redis.status === 'ready') return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMs);
        function done() {
          clearTimeout(timer);
          redis.off('ready', done);
          resolve();
        }
        redis.once('ready', done);
      });
    },
    async close(): Promise<void> {
      redis.disconnect();
    },
  };
}

export type GatewayRedis = ReturnType<typeof createGatewayRedis>;
