import { connect } from 'node:net';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAdminApp } from './createAdminApp';
import { createServiceApp, type ServiceApp } from './createServiceApp';

/**
 * What Node's HTTP parser refuses never reaches a route or Fastify's error
 * handler; every service still answers it with a JSON body in its own error
 * shape (issue 12: a 60 KB Authorization header got a body of another shape).
 * Real servers on free ports, plain sockets and fetch.
 */
const logLines: string[] = [];
const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString('utf8'));
      done();
    },
  }),
);
const graphqlShape = (code: string, message: string) => ({ errors: [{ message, extensions: { code } }] });
const admin = createAdminApp({ logger, readinessChecks: [] });
let plain: ServiceApp;
let graphql: ServiceApp;
const urlOf = ({ app }: ServiceApp) => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

beforeAll(async () => {
  plain = createServiceApp({ logger, admin });
  graphql = createServiceApp({ logger, admin, errorBody: graphqlShape });
  for (const { app } of [plain, graphql]) await app.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await Promise.all([plain?.app.close(), graphql?.app.close()]);
});

/** Sends raw bytes and returns everything the server writes before it closes the connection. */
function exchange(service: ServiceApp, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect((service.app.server.address() as AddressInfo).port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('utf8')));
    socket.on('close', () => resolve(received));
    socket.on('error', reject);
    socket.end(request);
  });
}

const secret = `Bearer ${'a'.repeat(60_000)}`;

describe('requests the HTTP parser refuses', () => {
  it('headers over the limit: 431 REQUEST_HEADER_FIELDS_TOO_LARGE as JSON, and the token is not logged', async () => {
    const response = await fetch(`${urlOf(plain)}/healthz`, { headers: { authorization: secret } });
    expect(response.status).toBe(431);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await response.json()).toEqual({ error: { code: 'REQUEST_HEADER_FIELDS_TOO_LARGE', message: expect.stringMatching(/bytes/) } });
    expect(logLines.join('')).toContain('REQUEST_HEADER_FIELDS_TOO_LARGE');
    expect(logLines.join('')).not.toContain('aaaaaaaaaa');
  });

  it("in the service's own error shape (the gateway's is GraphQL's)", async () => {
    const response = await fetch(`${urlOf(graphql)}/graphql`, { method: 'POST', headers: { authorization: secret } });
    expect(response.status).toBe(431);
    expect(await response.json()).toEqual({
      errors: [{ message: expect.any(String), extensions: { code: 'REQUEST_HEADER_FIELDS_TOO_LARGE' } }],
    });
  });

  it.each([
    ['a header line without a colon', 'GET /healthz HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n'],
    ['not HTTP at all', '\u0000\u0001\u0002 hello\r\n\r\n'],
    ['a bad Content-Length', 'POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'],
  ])('%s: 400 MALFORMED_REQUEST as JSON', async (_name, request) => {
    const raw = await exchange(plain, request);
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(head).toContain('Content-Type: application/json; charset=utf-8');
    expect(JSON.parse(body!)).toEqual({ error: { code: 'MALFORMED_REQUEST', message: 'the request is not valid HTTP/1.1' } });
  });

  it('a well-formed request on the same server is unaffected', async () => {
    const response = await fetch(`${urlOf(plain)}/healthz`);
    expect(await response.json()).toEqual({ status: 'ok' });
  });
});

describe('the access log', () => {
  const accessLines = () =>
    logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry['msg'] === 'request done');

  // Issue 13: a token sent in the query string is refused, but the refused URL reached the log whole.
  it('writes the path without the query string, which can carry a token', async () => {
    const response = await fetch(`${urlOf(plain)}/graphql?access_token=eyJ.query-secret.sig&x=1`);
    expect(response.status).toBe(404);
    await vi.waitFor(() => expect(accessLines()).toContainEqual(expect.objectContaining({ method: 'GET', path: '/graphql', status: 404 })));
    expect(logLines.join('')).not.toContain('query-secret');
  });

  it('leaves out the probes, with or without a query string', async () => {
    await fetch(`${urlOf(plain)}/healthz?probe=1`);
    await fetch(`${urlOf(plain)}/missing-marker`);
    await vi.waitFor(() => expect(accessLines()).toContainEqual(expect.objectContaining({ path: '/missing-marker' })));
    expect(accessLines().filter((entry) => entry['path'] === '/healthz')).toEqual([]);
  });

  // Issue 13, item 9: at the edge a client's x-request-id became the request id of every log line and audit row.
  it("at an edge (trustRequestId: false), request_id is the trace id and the client's id is client_request_id", async () => {
    const edge = createServiceApp({ logger, admin, trustRequestId: false });
    try {
      const response = await edge.app.inject({ method: 'GET', url: '/edge-marker', headers: { 'x-request-id': 'client-chosen-1' } });
      expect(response.statusCode).toBe(404);
      const line = accessLines().find((entry) => entry['path'] === '/edge-marker');
      expect(line).toMatchObject({ client_request_id: 'client-chosen-1', request_id: line?.['trace_id'] });
      expect(line?.['request_id']).toMatch(/^[0-9a-f]{32}$/);
    } finally {
      await edge.app.close();
    }
  });

  it('behind the gateway (the default), a lone x-request-id stays the request id', async () => {
    await plain.app.inject({ method: 'GET', url: '/inner-marker', headers: { 'x-request-id': 'gateway-1' } });
    expect(accessLines().find((entry) => entry['path'] === '/inner-marker')).toMatchObject({ request_id: 'gateway-1' });
    expect(accessLines().find((entry) => entry['path'] === '/inner-marker')).not.toHaveProperty('client_request_id');
  });
});

describe('JSON bodies', () => {
  let echo: ServiceApp;
  beforeAll(async () => {
    echo = createServiceApp({ logger, admin });
    echo.app.post('/echo', async (request) => request.body);
    await echo.app.ready();
  });
  afterAll(async () => {
    await echo?.app.close();
  });
  const post = (payload: Buffer | string) =>
    echo.app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload });

  it('bytes that are not UTF-8 are 400 MALFORMED_JSON, not stored as U+FFFD', async () => {
    const response = await post(Buffer.concat([Buffer.from('{"source":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]));
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: { code: 'MALFORMED_JSON', message: 'the body is not valid UTF-8' } });
  });

  it('UTF-8 text, empty bodies and prototype poisoning behave as Fastify parses them', async () => {
    expect((await post('{"source":"é ✓ 🙂"}')).json()).toEqual({ source: 'é ✓ 🙂' });
    expect((await post('')).json()).toMatchObject({ error: { code: 'EMPTY_BODY' } });
    expect((await post('{"__proto__":{"x":1}}')).statusCode).toBe(400);
    expect((await post('{"a":')).json()).toMatchObject({ error: { code: 'MALFORMED_JSON' } });
  });
});

// Issue 14: the gateway's public /readyz queried three subgraphs and Postgres on every hit from the internet.
describe('the admin listener', () => {
  let checks = 0;
  let processAdmin: ReturnType<typeof createAdminApp>;
  let service: ServiceApp;
  beforeAll(async () => {
    processAdmin = createAdminApp({ logger, readinessChecks: [{ name: 'dependency', check: async () => void checks++ }] });
    service = createServiceApp({ logger, admin: processAdmin });
    service.app.get('/work', async () => ({ done: true }));
    await Promise.all([service.app.ready(), processAdmin.app.ready()]);
  });
  afterAll(async () => {
    await Promise.all([service?.app.close(), processAdmin?.app.close()]);
  });

  it('a service listener answers /healthz only: /readyz and /metrics are 404 NOT_FOUND, and no readiness check runs', async () => {
    for (let i = 0; i < 20; i++) {
      expect((await service.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
      for (const url of ['/readyz', '/metrics', '/readyz?verbose=1']) {
        const response = await service.app.inject({ method: 'GET', url });
        expect(response.statusCode).toBe(404);
        expect(response.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
      }
    }
    expect(checks).toBe(0);
  });

  it('serves /readyz (running the checks) and /metrics with the service listener’s request durations', async () => {
    await service.app.inject({ method: 'GET', url: '/work' });
    const ready = await processAdmin.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json()).toEqual({ status: 'ready', checks: [{ name: 'dependency', ok: true }] });
    expect(checks).toBe(1);
    const metrics = await processAdmin.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/work",status="200"\} 1/);
    expect(metrics.body).toContain('process_cpu_user_seconds_total');
  });

  it('answers 503 draining once the process drains, while /healthz stays 200', async () => {
    processAdmin.markDraining();
    const ready = await processAdmin.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ status: 'draining' });
    expect((await processAdmin.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });
});

// A Postgres restart under load (docs/runbooks/drills/postgres-primary-restart.md): the client may retry, nothing broke.
describe('errors of a route', () => {
  let service: ServiceApp;
  beforeAll(async () => {
    service = createServiceApp({ logger, admin });
    service.app.get('/unreachable', async () => {
      throw new Error('query failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }) });
    });
    service.app.get('/shutting-down', async () => {
      throw Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    });
    service.app.get('/bug', async () => {
      throw new TypeError('undefined is not a function');
    });
    await service.app.ready();
  });
  afterAll(async () => {
    await service?.app.close();
  });

  it('a dependency that cannot be reached is 503 SERVICE_UNAVAILABLE with Retry-After, not 500', async () => {
    for (const url of ['/unreachable', '/shutting-down']) {
      const response = await service.app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('2');
      expect(response.json()).toEqual({ error: { code: 'SERVICE_UNAVAILABLE', message: 'a dependency is unavailable; retry shortly' } });
    }
  });

  it('anything else is still a masked 500 INTERNAL, without Retry-After', async () => {
    const response = await service.app.inject({ method: 'GET', url: '/bug' });
    expect(response.statusCode).toBe(500);
    expect(response.headers['retry-after']).toBeUndefined();
    expect(response.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
  });
});
