import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';
import { isIP } from 'node:net';
import { defaultDistDir } from './buildWorkbench';
import { isProduction } from './config';
import { contentSecurityPolicy, gatewayOrigins } from './contentSecurityPolicy';
import { registerDevTokenEndpoint, type DevTokens } from './devTokenEndpoint';

export interface StartWorkbenchOptions {
  /** The gateway's HTTP origin, e.g. http://127.0.0.1:4000; its ws: origin is derived. */
  gatewayUrl: string;
  /** Default 4200; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The built app (buildWorkbench); default apps/workbench/dist. */
  distDir?: string;
  /** Development only: serve POST /dev/token and GET /dev/tenants. */
  devTokens?: DevTokens;
}

export interface RunningWorkbench {
  /** e.g. http://127.0.0.1:4200, no trailing slash: the origin GATEWAY_CORS_ORIGINS must list. */
  url: string;
  /** Stops accepting, lets requests in flight finish. */
  close: () => Promise<void>;
}

const WORKBENCH_PORT = 4200;

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));

/** A path the app routes (no file extension): answered with index.html so a reload or a shared link works. */
const isAppRoute = (path: string) => !/\.[a-z0-9]+$/i.test(path) && !path.startsWith('/dev/') && !path.startsWith('/assets/');

/**
 * The Workbench's static server (docs/adr/0030-workbench-app.md): the built
 * files under a strict CSP, `/config.json` with the gateway's URL (one build
 * works everywhere), index.html for app routes, and, in the dev stack only,
 * the dev token endpoint.
 */
export async function startWorkbench(options: StartWorkbenchOptions): Promise<RunningWorkbench> {
  const host = options.host ?? '127.0.0.1';
  if (options.devTokens !== undefined && isProduction()) throw new Error('dev tokens are refused when NODE_ENV=production');
  if (options.devTokens !== undefined && !isLoopback(host))
    throw new Error(`dev tokens are served on a loopback address only, not ${host}`);
  const gateway = gatewayOrigins(options.gatewayUrl);
  const csp = contentSecurityPolicy(options.gatewayUrl);

  const app = Fastify({ logger: false });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', csp);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });
  await app.register(fastifyStatic, {
    root: options.distDir ?? defaultDistDir,
    cacheControl: false,
    // Hashed asset names never change content; index.html must be revalidated to pick up a new build.
    setHeaders: (response, path) =>
      response.setHeader('cache-control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'),
  });
  app.get('/config.json', async (_request, reply) =>
    reply.header('cache-control', 'no-store').send({
      gatewayUrl: gateway.http,
      gatewayWsUrl: `${gateway.ws}/graphql`,
      devSignIn: options.devTokens !== undefined,
    }),
  );
  if (options.devTokens !== undefined) await registerDevTokenEndpoint(app, options.devTokens);
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '/';
    if (request.method === 'GET' && isAppRoute(path)) return reply.header('cache-control', 'no-cache').sendFile('index.html');
    return reply.code(404).type('text/plain').send('not found');
  });

  const address = await app.listen({ host, port: options.port ?? WORKBENCH_PORT });
  return { url: new URL(address).origin, close: () => app.close() };
}
