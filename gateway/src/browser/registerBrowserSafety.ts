import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import { GATEWAY_FLAGS_HEADER, GATEWAY_REGION_HEADER } from '../flags/createGatewayFlags';
import type { OriginAllowList } from './originAllowList';

export interface BrowserSafetyOptions {
  origins: OriginAllowList;
  /** Access-Control-Max-Age of a preflight answer. */
  maxAgeSeconds: number;
}

/**
 * CORS for the listed origins only, without credentials (a bearer token in
 * `authorization` is the only credential; no cookies), and headers that stop
 * a browser from sniffing a response into something executable or leaking the
 * page's URL onwards (docs/adr/0028-workbench.md). A preflight from an origin
 * not listed gets no CORS headers (404), so the browser never sends the request.
 * Registered before the routes, so that its hooks cover them all.
 */
export async function registerBrowserSafety(app: FastifyInstance, { origins, maxAgeSeconds }: BrowserSafetyOptions) {
  await app.register(cors, {
    origin: (origin, callback) => callback(null, origins.lists(origin)),
    credentials: false,
    methods: ['GET', 'POST'],
    allowedHeaders: ['authorization', 'content-type', 'apollographql-client-name', 'apollographql-client-version'],
    // Retry-After to back off a 429; the status headers for the Workbench's status view.
    exposedHeaders: ['retry-after', GATEWAY_REGION_HEADER, GATEWAY_FLAGS_HEADER],
    maxAge: maxAgeSeconds,
  });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });
}
