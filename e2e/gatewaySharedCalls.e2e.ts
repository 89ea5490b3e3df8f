import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { INTERNAL_TOKEN_HEADER } from '@coherence/contracts';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { startApplication } from './support/startApplication';

/**
 * Identical query calls in flight at once share one subgraph call
 * (docs/adr/0033-subgraph-fetch.md), and calls for different tenants or
 * callers never do; calls that wait for one in flight go together in one
 * HTTP call, each with its own token (docs/adr/0037-batched-subgraph-calls.md).
 * The gateway reaches the real coherence subgraph through a proxy that counts
 * the HTTP calls and the operations they carry (one internal token each) and
 * holds each call for a while, so that reads sent together are surely in
 * flight together. The cache is off (the test application's default): every
 * read goes to the subgraphs.
 */
const HOLD_MS = 1_000;
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let proxy: Server;
let target: string | undefined;
/** Operations the coherence subgraph was asked to run: one per internal token. */
let calls = 0;
/** HTTP calls that carried them. */
let httpCalls = 0;
/** The longest internal-token header of those calls. */
let longestTokenHeader = 0;
const tenantA = () => `${database.namespace}-a`;
const tenantB = () => `${database.namespace}-b`;
/** Tenants read all at once by the batching tests. */
const manyTenants = () => Array.from({ length: 40 }, (_, i) => `${database.namespace}-many-${i}`);
const operationId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  proxy = createServer((request, response) => {
    httpCalls += 1;
    const tokens = String(request.headers[INTERNAL_TOKEN_HEADER]);
    calls += tokens.split(',').length;
    longestTokenHeader = Math.max(longestTokenHeader, tokens.length);
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      setTimeout(() => {
        void fetch(target!, { method: 'POST', headers: request.headers as Record<string, string>, body: Buffer.concat(chunks) })
          .then(async (answer) => response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text()))
          .catch(() => response.writeHead(502).end());
      }, HOLD_MS);
    });
  });
  await new Promise<void>((listening) => proxy.listen(0, '127.0.0.1', listening));
  app = await startApplication(services, database, {
    gatewayEnv: { SUBGRAPH_COHERENCE_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/graphql` },
  });
  target = app.subgraphUrls.SUBGRAPH_COHERENCE_URL;
  for (const tenant of [tenantA(), tenantB(), ...manyTenants()]) await app.registerTenant(tenant);
});

afterAll(async () => {
  await app?.stop();
  await new Promise((done) => proxy?.close(done));
  await database?.drop();
});

beforeEach(() => {
  calls = 0;
  httpCalls = 0;
  longestTokenHeader = 0;
});

async function readScore(tenantId: string, token: string) {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: operationId } }, variables: { tenantId } }),
  });
  const body = (await response.json()) as { data?: { tenantCoherence: { tenantId: string } }; errors?: unknown };
  return { status: response.status, tenantId: body.data?.tenantCoherence.tenantId, errors: body.errors };
}

describe('subgraph calls shared while in flight', () => {
  it('answers ten identical reads sent together with one call to the subgraph', async () => {
    const token = await app.mintToken({ tenant: tenantA(), scopes: ['coherence:read:self'] });
    const answers = await Promise.all(Array.from({ length: 10 }, () => readScore(tenantA(), token)));
    expect(answers).toEqual(Array.from({ length: 10 }, () => ({ status: 200, tenantId: tenantA(), errors: undefined })));
    // One call, unless the machine is so slow that a read entered after the first call's hold ended.
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThanOrEqual(2);
  });

  it('never shares between tenants: each read gets its own tenant, with a call of its own', async () => {
    const tokenA = await app.mintToken({ tenant: tenantA(), scopes: ['coherence:read:self'] });
    const tokenB = await app.mintToken({ tenant: tenantB(), scopes: ['coherence:read:self'] });
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? readScore(tenantA(), tokenA) : readScore(tenantB(), tokenB))),
    );
    expect(answers.map((a) => a.tenantId)).toEqual([tenantA(), tenantB(), tenantA(), tenantB(), tenantA(), tenantB()]);
    expect(calls).toBeGreaterThanOrEqual(2);
  });

  it('never shares between callers who differ in what their tokens allow, even for the same tenant', async () => {
    const own = await app.mintToken({ tenant: tenantA(), scopes: ['coherence:read:self'] });
    const operator = await app.mintToken({ tenant: tenantB(), scopes: ['coherence:read'], sub: 'operator' });
    const answers = await Promise.all([readScore(tenantA(), own), readScore(tenantA(), operator)]);
    expect(answers.map((a) => [a.status, a.tenantId])).toEqual([
      [200, tenantA()],
      [200, tenantA()],
    ]);
    expect(calls).toBe(2);
  });
});

describe('subgraph calls batched under load', () => {
  /** Reads every tenant of `tenants` at once, each with a token of its own minted beforehand. */
  async function readAllAtOnce(tenants: string[]) {
    const tokens = await Promise.all(tenants.map((tenant) => app.mintToken({ tenant, scopes: ['coherence:read:self'] })));
    return Promise.all(tenants.map((tenant, i) => readScore(tenant, tokens[i]!)));
  }

  it('sends reads of eight tenants at once in fewer HTTP calls than reads, each answered with its own tenant', async () => {
    expect(await readAllAtOnce(manyTenants().slice(0, 8))).toEqual(
      manyTenants()
        .slice(0, 8)
        .map((tenantId) => ({ status: 200, tenantId, errors: undefined })),
    );
    // Each read's call is an operation of its own (no two alike to share), but at most two HTTP calls are under way
    // at once (GATEWAY_SUBGRAPH_CALLS_IN_FLIGHT's default): the six reads behind the first two went together.
    expect(calls).toBe(8);
    expect(httpCalls).toBeGreaterThanOrEqual(3);
    expect(httpCalls).toBeLessThanOrEqual(4);
  });

  it('splits a full batch whose tokens would pass 16 KiB of headers, so that no call is refused for its size', async () => {
    // Two go alone; the rest wait together, about 640 characters of token each: 38 would be about 24 KB of header.
    expect(await readAllAtOnce(manyTenants())).toEqual(manyTenants().map((tenantId) => ({ status: 200, tenantId, errors: undefined })));
    expect(calls).toBe(40);
    // Node's servers (this proxy among them) refuse over 16 KiB of headers; the gateway keeps tokens to 12,000 characters.
    expect(longestTokenHeader).toBeLessThanOrEqual(12_000);
    expect(longestTokenHeader).toBeGreaterThan(2_000);
  });
});
