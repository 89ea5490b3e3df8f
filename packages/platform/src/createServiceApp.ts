import type { FastifyInstance } from 'fastify';
import type { AdminApp } from './createAdminApp';
import { createBaseApp, type BaseAppOptions } from './createBaseApp';

export interface ServiceAppOptions extends BaseAppOptions {
  /** The process's admin listener, whose registry gets this app's request durations. */
  admin: AdminApp;
}

export interface ServiceApp {
  app: FastifyInstance;
}

/**
 * A service listener (an API, a subgraph, provider webhooks): the common
 * plumbing of {@link createBaseApp} and a `/healthz` that touches no
 * dependency. `/readyz` and `/metrics` are not here but on the process's
 * admin listener ({@link createAdminApp}): a request from the network a
 * service port is exposed to must not be able to make the process query its
 * dependencies, nor read its metrics.
 */
export function createServiceApp(options: ServiceAppOptions): ServiceApp {
  const { admin, ...baseOptions } = options;
  const app = createBaseApp(baseOptions);
  admin.observeRequests(app);
  return { app };
}
