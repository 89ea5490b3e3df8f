import { createFeatureFlags, flagNames } from '@coherence/flags';
import { createAdminApp, createPgPool, type Logger } from '@coherence/platform';
import { Redis } from 'ioredis';
import { hostname } from 'node:os';
import { createBusWorker } from '../bus/createBusWorker';
import { registerOpenCommandsGauge } from '../bus/registerOpenCommandsGauge';
import type { CommsWorkerConfig } from '../config';
import { createSsrfGuard } from '../delivery/createSsrfGuard';
import { createWebhookHandler, NOTIFY_WEBHOOK } from '../delivery/createWebhookHandler';
import { createChangeListener } from '../listener/createChangeListener';
import { createQuietHoursGate } from '../quietHours/createQuietHoursGate';
import { loadQuietHoursPolicy } from '../quietHours/loadQuietHoursPolicy';

/**
 * The comms worker process: the command-bus worker with the webhook handler
 * (SSRF guard, quiet hours), the `CoherenceChanged` listener that sends the
 * notifications, and its admin listener (`/healthz`, `/readyz`, `/metrics`; it serves no API). While the
 * `comms.notifications` kill switch is off the bus claims nothing; the
 * listener still turns status changes into commands, which wait for it to be
 * on again. `close()` stops taking events, drains in-flight commands
 * (releasing what outlives the drain) and closes connections.
 */
export async function createWorkerService(config: CommsWorkerConfig, logger: Logger) {
  const pool = createPgPool(config.COMMS_DATABASE_URL, {
    max: config.COMMS_WORKER_CONCURRENCY + 4,
    onIdleError: (err) => logger.warn({ err }, 'idle postgres client failed'),
  });
  const redis = config.REDIS_URL ? new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 3 }) : undefined;
  redis?.on('error', (err) => logger.warn({ err }, 'redis connection error'));
  const admin = createAdminApp({
    logger,
    readinessChecks: [
      { name: 'postgres', check: async () => void (await pool.query('SELECT 1')) },
      ...(redis ? [{ name: 'redis', check: async () => void (await redis.ping()) }] : []),
    ],
  });
  const { metrics } = admin;
  registerOpenCommandsGauge(metrics, pool, config.COMMS_REGION);
  const flags = createFeatureFlags({ config, appName: 'comms-worker', logger, metrics });
  // As the gateway: a worker that can reach Unleash does not deliver on bootstrap states while a switch is off.
  if (!(await flags.waitUntilSynchronized(2_000))) logger.warn('unleash has not answered yet; starting on the bootstrap flag states');
  const policy = await loadQuietHoursPolicy(config.COMMS_POLICY_PUBLIC_KEY.key, config.COMMS_POLICY_BUNDLE_DIR);
  const workerId = `comms-worker@${hostname()}:${process.pid}`;
  const worker = createBusWorker({
    pool,
    region: config.COMMS_REGION,
    ...(config.COMMS_LISTEN_NOTIFY ? { listenUrl: config.COMMS_DATABASE_URL } : {}),
    handlers: {
      [NOTIFY_WEBHOOK]: createWebhookHandler({
        pool,
        guard: createSsrfGuard({ allow: config.COMMS_SSRF_ALLOW }),
        timeoutMs: config.COMMS_WEBHOOK_TIMEOUT_MS,
        leaseMs: config.COMMS_LEASE_MS,
        quietHours: createQuietHoursGate({ pool, policy, region: config.COMMS_REGION, subject: `system:${workerId}` }),
        metrics,
      }),
    },
    logger,
    workerId,
    concurrency: config.COMMS_WORKER_CONCURRENCY,
    leaseMs: config.COMMS_LEASE_MS,
    pollMs: config.COMMS_POLL_MS,
    drainMs: config.COMMS_DRAIN_MS,
    retry: { baseMs: config.COMMS_RETRY_BASE_MS, maxMs: config.COMMS_RETRY_MAX_MS },
    metrics,
    paused: () => !flags.isEnabled(flagNames.commsNotifications),
  });
  const listener = createChangeListener({ pool, logger, maxAttempts: config.COMMS_MAX_ATTEMPTS });
  const pendingEvents = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    pendingEvents.add(work);
    void work.finally(() => pendingEvents.delete(work));
  };
  /** Pub/sub keeps nothing while this worker is not subscribed: replay what the relay recorded meanwhile. */
  const catchUp = () =>
    track(
      listener
        .catchUp(new Date(Date.now() - config.COMMS_CATCH_UP_MINUTES * 60_000))
        .then((result) => logger.info(result, 'replayed recent status changes'))
        .catch((err: unknown) => logger.error({ err }, 'replaying recent status changes failed')),
    );
  return {
    /** `/healthz`, `/readyz`, `/metrics` (COMMS_WORKER_ADMIN_PORT). */
    admin: admin.app,
    worker,
    /**
     * Starts the bus loop and subscribes to `CoherenceChanged`; resolves once
     * subscribed the first time. Never rejects: Redis down at start is logged
     * and ioredis keeps reconnecting; until a first SUBSCRIBE succeeded it is
     * asked on every 'ready', afterwards ioredis resubscribes by itself. Every
     * subscription is followed by a catch-up replay from the history.
     */
    async start() {
      worker.start();
      if (!redis) return;
      redis.on('message', (_channel: string, raw: string) => {
        track(listener.handle(raw).catch((err: unknown) => logger.error({ err }, 'notifying a status change failed')));
      });
      await new Promise<void>((subscribedOnce) => {
        let subscribed = false;
        redis.on('ready', () => {
          if (subscribed) return catchUp();
          redis.subscribe(config.COHERENCE_CHANGED_CHANNEL).then(
            () => {
              subscribed = true;
              catchUp();
              subscribedOnce();
            },
            (err: unknown) => logger.warn({ err }, 'subscribing to status changes failed; retrying on the next connection'),
          );
        });
        redis.connect().catch((err: unknown) => logger.warn({ err }, 'redis not reachable at start; reconnecting in the background'));
      });
    },
    async close() {
      admin.markDraining();
      if (redis) {
        await redis.unsubscribe().catch(() => undefined);
        await Promise.all(pendingEvents);
        redis.disconnect();
      }
      await worker.stop();
      flags.close();
      await pool.end();
      await admin.app.close();
    },
  };
}
