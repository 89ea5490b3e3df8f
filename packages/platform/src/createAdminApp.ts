import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { createBaseApp } from './createBaseApp';

/** One dependency the process needs before it can take traffic. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

export interface AdminAppOptions {
  logger: Logger;
  readinessChecks: readonly ReadinessCheck[];
}

export interface AdminApp {
  /**
   * The process's admin listener: `/healthz`, `/readyz` (its dependencies
   * answer and it is not draining) and `/metrics`. For probes and the
   * scraper only: never expose its port (docs/adr/0016-admin-listeners.md).
   */
  app: FastifyInstance;
  /** This process's Prometheus registry, served at /metrics; register service metrics here. */
  metrics: Registry;
  /** Makes /readyz answer 503 so load balancers stop sending work before we close. */
  markDraining(): void;
  /** Records every request of a service app in `http_request_duration_seconds`. */
  observeRequests(app: FastifyInstance): void;
}

/**
 * One per process, whatever its service listeners: the readiness checks (a
 * Postgres query, a Neo4j round trip, a call to each subgraph…) and the
 * metrics run only when a probe or the scraper asks here, never on a
 * request to a service port.
 */
export function createAdminApp(options: AdminAppOptions): AdminApp {
  let draining = false;
  const app = createBaseApp({ logger: options.logger });
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics],
  });
  app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));
  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(
      options.readinessChecks.map(async ({ name, check }) => {
        try {
          await check();
          return { name, ok: true as const };
        } catch (error) {
          return { name, ok: false as const, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
    const ready = !draining && results.every((r) => r.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : draining ? 'draining' : 'not_ready', checks: results });
  });
  const observeRequests = (observed: FastifyInstance) => {
    observed.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      if (route === '/metrics') return;
      requestDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1_000);
    });
  };
  // The probes' own durations too: a /readyz that takes seconds is worth seeing.
  observeRequests(app);
  return {
    app,
    metrics,
    markDraining: () => {
      draining = true;
    },
    observeRequests,
  };
}
