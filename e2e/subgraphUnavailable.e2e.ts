import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApplication } from './support/startApplication';

/**
 * A subgraph that cannot be reached (killed, restarting) or answers 503 is no
 * bug: the gateway answers 503 SERVICE_UNAVAILABLE with `Retry-After`, as for
 * its own database, where it answered 200 with an INTERNAL error (seen in the
 * kill-process drill). Any other failed subgraph call stays INTERNAL, and no
 * answer carries the subgraph's URL or body out (Apollo's
 * `extensions.response`). A subgraph that keeps a call waiting past
 * GATEWAY_SUBGRAPH_TIMEOUT_MS is unavailable too. Subgraphs stand in here:
 * the coherence URL is a closed port, the comms URL a server answering what
 * the test asks, or nothing.
 */
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let comms: Server;
let commsStatus = 503;
/** While set, the comms stand-in accepts calls and never answers them. */
let commsSilent = false;
/** The gateway's deadline for a subgraph call here. */
const SUBGRAPH_TIMEOUT_MS = 500;
let closedPortUrl: string;

const portOf = (server: Server) => (server.address() as AddressInfo).port;
const operationId = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  comms = createServer((_request, response) => {
    if (commsSilent) return;
    response.writeHead(commsStatus, { 'content-type': 'application/json' }).end('{"secret":"subgraph body"}');
  });
  const closed = createServer();
  await new Promise<void>((listening) => closed.listen(0, '127.0.0.1', listening));
  closedPortUrl = `http://127.0.0.1:${portOf(closed)}/graphql`;
  await new Promise<void>((done) => closed.close(() => done()));
  await new Promise<void>((listening) => comms.listen(0, '127.0.0.1', listening));
  app = await startApplication(services, database, {
    gatewayEnv: {
      SUBGRAPH_COHERENCE_URL: closedPortUrl,
      SUBGRAPH_COMMS_URL: `http://127.0.0.1:${portOf(comms)}/graphql`,
      GATEWAY_SUBGRAPH_TIMEOUT_MS: String(SUBGRAPH_TIMEOUT_MS),
    },
  });
  await app.registerTenant(`${database.namespace}-acme`);
});

afterAll(async () => {
  await app?.stop();
  comms?.closeAllConnections();
  await new Promise((done) => comms?.close(done));
  await database?.drop();
});

async function read(operation: string, variables: Record<string, unknown>, scopes: string[]) {
  const tenant = `${database.namespace}-acme`;
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await app.mintToken({ tenant, scopes })}` },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: operationId(operation) } }, variables }),
  });
  const text = await response.text();
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    text,
    body: JSON.parse(text) as { errors?: { extensions: { code: string } }[] },
  };
}

describe('a subgraph that is unavailable', () => {
  it('answers 503 SERVICE_UNAVAILABLE with Retry-After when the subgraph cannot be reached', async () => {
    const answer = await read('TenantCoherence', { tenantId: `${database.namespace}-acme` }, ['coherence:read:self']);
    expect(answer.status).toBe(503);
    expect(answer.retryAfter).toBe('2');
    expect(answer.body.errors?.map((error) => error.extensions.code)).toEqual(['SERVICE_UNAVAILABLE']);
    expect(answer.text).not.toContain(closedPortUrl);
  });

  it('answers 503 SERVICE_UNAVAILABLE when the subgraph answers 503, without its body', async () => {
    commsStatus = 503;
    const answer = await read('Commands', { first: 5 }, ['comms:operate']);
    expect(answer.status).toBe(503);
    expect(answer.body.errors?.[0]?.extensions.code).toBe('SERVICE_UNAVAILABLE');
    expect(answer.text).not.toContain('subgraph body');
  });

  it('answers 503 SERVICE_UNAVAILABLE once GATEWAY_SUBGRAPH_TIMEOUT_MS has passed when the subgraph never answers', async () => {
    commsSilent = true;
    const started = performance.now();
    const answer = await read('Commands', { first: 5 }, ['comms:operate']).finally(() => (commsSilent = false));
    const waitedMs = performance.now() - started;
    expect(answer.status).toBe(503);
    expect(answer.body.errors?.map((error) => error.extensions.code)).toEqual(['SERVICE_UNAVAILABLE']);
    // Held for the deadline, not for undici's default of 5 minutes.
    expect(waitedMs).toBeGreaterThanOrEqual(SUBGRAPH_TIMEOUT_MS - 50);
    expect(waitedMs).toBeLessThan(5_000);
  });

  it('masks any other failed subgraph call as INTERNAL, without the subgraph’s URL, status or body', async () => {
    commsStatus = 401;
    const answer = await read('Commands', { first: 5 }, ['comms:operate']);
    expect(answer.body.errors?.map((error) => error.extensions.code)).toEqual(['INTERNAL']);
    expect(answer.status).not.toBe(503);
    expect(answer.text).not.toContain('subgraph body');
    expect(answer.text).not.toContain(String(portOf(comms)));
  });
});
