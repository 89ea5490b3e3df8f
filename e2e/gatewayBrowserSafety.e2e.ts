import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';

/**
 * The gateway answers browsers of the listed origins only (GATEWAY_CORS_ORIGINS),
 * without credentials, with cached preflights; the WebSocket upgrade checks the
 * same list; every response carries nosniff and no-referrer (docs/adr/0028-workbench.md).
 */
const WORKBENCH = 'http://127.0.0.1:4200';
const ATTACKER = 'https://evil.example';

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  app = await startApplication(services, database, {
    gatewayEnv: { GATEWAY_CORS_ORIGINS: WORKBENCH, GATEWAY_CORS_MAX_AGE_SECONDS: '900' },
  });
});

afterAll(async () => {
  await app?.stop();
  await database?.drop();
});

const preflight = (origin: string) =>
  fetch(`${app.gatewayUrl}/graphql`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
  });

const post = (origin: string | undefined) =>
  fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(origin === undefined ? {} : { origin }) },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } }),
  });

/** The upgrade's HTTP status (101 when the socket opened) and the refusal's body. */
const upgrade = (origin: string | undefined) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const socket = new WebSocket(
      `${app.gatewayUrl.replace('http', 'ws')}/graphql`,
      'graphql-transport-ws',
      origin === undefined ? {} : { origin },
    );
    socket.once('open', () => {
      socket.close();
      resolve({ status: 101, body: '' });
    });
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    socket.once('error', reject);
  });

describe('CORS', () => {
  it('answers a preflight from the listed origin, cached, without credentials', async () => {
    const response = await preflight(WORKBENCH);
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe(WORKBENCH);
    expect(response.headers.get('access-control-allow-methods')).toBe('GET, POST');
    expect(response.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(response.headers.get('access-control-max-age')).toBe('900');
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(response.headers.get('vary')).toContain('Origin');
  });

  it('lets the listed origin read answers, refusals included, and Retry-After', async () => {
    const response = await post(WORKBENCH);
    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-allow-origin')).toBe(WORKBENCH);
    expect(response.headers.get('access-control-expose-headers')).toBe('retry-after, x-coherence-region, x-coherence-flags');
  });

  it('says on every answer which region answered and how the gateway sees its flags (the Workbench status view)', async () => {
    const response = await post(WORKBENCH);
    expect(response.headers.get('x-coherence-region')).toBe('us');
    // Other files may flip the shared Unleash flags meanwhile: the shape is what this file owns.
    expect(response.headers.get('x-coherence-flags')).toMatch(/^v24\.coherence=(on|off), region-routing=(on|off)$/);
  });

  it.each([
    ['another site', ATTACKER],
    ['a sandboxed or file page (null)', 'null'],
    ['the listed origin with a path', `${WORKBENCH}/`],
    ['a look-alike host', 'http://127.0.0.1:4200.evil.example'],
    ['a huge header', `https://${'a'.repeat(8_000)}.example`],
    ['a wildcard', '*'],
  ])('refuses a preflight from %s with no CORS header', async (_name, origin) => {
    const response = await preflight(origin);
    expect(response.status).toBe(404);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-methods')).toBeNull();
    const request = await post(origin);
    expect(request.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('serves clients that send no Origin (not browsers) as before, without CORS headers', async () => {
    const response = await post(undefined);
    expect(response.status).toBe(401);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('security headers', () => {
  it.each([
    ['a refusal', () => post(undefined)],
    ['a preflight', () => preflight(WORKBENCH)],
    ['a refused preflight', () => preflight(ATTACKER)],
    ['the health check', () => fetch(`${app.gatewayUrl}/healthz`)],
  ])('puts nosniff and no-referrer on %s', async (_name, send) => {
    const response = await send();
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  });
});

describe('WebSocket upgrade', () => {
  it('opens for the listed origin and for a client that sends none', async () => {
    expect((await upgrade(WORKBENCH)).status).toBe(101);
    expect((await upgrade(undefined)).status).toBe(101);
  });

  it.each([
    ['another site', ATTACKER],
    ['null', 'null'],
    ['a huge header', `https://${'a'.repeat(8_000)}.example`],
  ])('refuses %s with 403 and a clear reason', async (_name, origin) => {
    expect(await upgrade(origin)).toEqual({ status: 403, body: 'origin not allowed (GATEWAY_CORS_ORIGINS)' });
  });
});
