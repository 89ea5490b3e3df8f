import { INTERNAL_TOKEN_ISSUER, INTERNAL_TOKEN_TYPE } from '@coherence/auth';
import { INTERNAL_TOKEN_HEADER } from '@coherence/contracts';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createTestDatabase, freePort, startApplication, type TestDatabase } from '@coherence/testkit';
import { importJWK, SignJWT, type JWK } from 'jose';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Issue 14, item 2: the subgraphs answer the gateway's signed calls only
 * (and item 3 in part: ingest's subgraph has a listener of its own, no
 * introspection, bounded `_entities`).
 * Over the whole application, each attack on a subgraph's `/graphql` is
 * refused before anything is resolved: no token (or the old plain headers),
 * a token for another subgraph, an expired one, and a token the gateway
 * really minted for a request about one tenant replayed with a call about
 * another. Ingest's calls go through a recording proxy, so the replayed
 * token is one the gateway sent, not one the test made up.
 */
const tenantCoherenceId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let proxy: Server;
/** Where the proxy forwards to: the ingest subgraph, known once the application has started. */
let ingestTarget: string;
/** The internal tokens the gateway sent to ingest, in order. */
const sentToIngest: string[] = [];

/** Forwards every call to ingest unchanged, keeping the internal token it carried. */
function startRecordingProxy(port: number): Promise<Server> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const token = request.headers[INTERNAL_TOKEN_HEADER];
      if (typeof token === 'string') sentToIngest.push(token);
      const headers = Object.entries(request.headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
      void fetch(ingestTarget, {
        method: request.method!,
        headers: headers.filter(([name]) => name !== 'host'),
        body: Buffer.concat(chunks),
      })
        .then(async (answer) => response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text()))
        .catch(() => response.writeHead(502).end());
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  const proxyPort = await freePort();
  proxy = await startRecordingProxy(proxyPort);
  app = await startApplication(inject('services'), database, {
    gatewayEnv: { SUBGRAPH_INGEST_URL: `http://127.0.0.1:${proxyPort}/graphql` },
  });
  ingestTarget = app.subgraphUrls.SUBGRAPH_INGEST_URL;
});

afterAll(async () => {
  await app?.stop();
  await new Promise((resolve) => proxy?.close(resolve));
  await database?.drop();
});

const tenant = (name: string) => `${database.namespace}-${name}`;

interface SubgraphAnswer {
  status: number;
  body: { error?: { code: string }; data?: Record<string, unknown> | null; errors?: { extensions?: { code?: string } }[] };
}

async function callSubgraph(url: string, headers: Record<string, string>, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as SubgraphAnswer['body'] };
}

const INGEST_ENTITIES =
  'query($representations: [_Any!]!) { _entities(representations: $representations) { ... on CoherenceScore { tenantId ingest { accepted24h } } } }';
const scoreOf = (tenantId: string) => ({ __typename: 'CoherenceScore', tenantId });
const TENANT_COHERENCE = 'query($tenantId: ID!) { tenantCoherence(tenantId: $tenantId) { tenantId status } }';

/** A token signed with the gateway's own internal key, with the claims and times the test sets. */
async function gatewaySigned(claims: { audience: string; tenants: string[]; iat: number; exp: number }) {
  const jwk = JSON.parse(readFileSync(app.internalKeys.privateKeyPath, 'utf8')) as JWK;
  return new SignJWT({ scope: 'coherence:read', tenants: claims.tenants, region: 'us', request_id: 'forged' })
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid!, typ: INTERNAL_TOKEN_TYPE })
    .setIssuer(INTERNAL_TOKEN_ISSUER)
    .setAudience(claims.audience)
    .setSubject('mallory')
    .setIssuedAt(claims.iat)
    .setExpirationTime(claims.exp)
    .sign(await importJWK(jwk, 'ES256'));
}
const nowSeconds = () => Math.floor(Date.now() / 1_000);

/** Reads `tenantId`'s score through the gateway, which calls ingest through the proxy; returns the token ingest got. */
async function readThroughGateway(tenantId: string): Promise<string> {
  const before = sentToIngest.length;
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(await app.readHeaders(tenantId)) },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }, variables: { tenantId } }),
  });
  const body = (await response.json()) as { data?: { tenantCoherence: { tenantId: string; ingest: unknown } }; errors?: unknown };
  expect(body.errors).toBeUndefined();
  expect(body.data?.tenantCoherence).toMatchObject({ tenantId, ingest: { accepted24h: 0 } });
  expect(sentToIngest.length).toBe(before + 1);
  return sentToIngest.at(-1)!;
}

describe('a subgraph call without a valid internal token', () => {
  it.each(['ingest', 'coherence', 'comms'] as const)(
    'is a 401 INTERNAL_TOKEN_MISSING on %s, also with the old plain headers',
    async (name) => {
      const url = { ingest: ingestTarget, coherence: app.subgraphUrls.SUBGRAPH_COHERENCE_URL, comms: app.subgraphUrls.SUBGRAPH_COMMS_URL }[
        name
      ];
      const oldHeaders = { 'x-coherence-subject': 'mallory', 'x-coherence-gateway-region': 'us', 'x-coherence-region': 'us' };
      for (const headers of [{}, oldHeaders]) {
        const answer = await callSubgraph(url, headers, '{ __typename }');
        expect(answer.status).toBe(401);
        expect(answer.body.error?.code).toBe('INTERNAL_TOKEN_MISSING');
      }
    },
  );

  it('reads no tenant: anonymous _entities on ingest answers nothing', async () => {
    const answer = await callSubgraph(ingestTarget, {}, INGEST_ENTITIES, { representations: [scoreOf(tenant('globex'))] });
    expect(answer).toEqual({ status: 401, body: { error: { code: 'INTERNAL_TOKEN_MISSING', message: expect.any(String) } } });
  });

  it('is a 401 INTERNAL_TOKEN_AUDIENCE_INVALID with a token the gateway minted for another subgraph', async () => {
    const acme = tenant('acme');
    await app.registerTenant(acme);
    const forIngest = await readThroughGateway(acme);
    const answer = await callSubgraph(app.subgraphUrls.SUBGRAPH_COHERENCE_URL, { [INTERNAL_TOKEN_HEADER]: forIngest }, TENANT_COHERENCE, {
      tenantId: acme,
    });
    expect(answer.status).toBe(401);
    expect(answer.body.error?.code).toBe('INTERNAL_TOKEN_AUDIENCE_INVALID');
  });

  it('is a 401 INTERNAL_TOKEN_EXPIRED with an expired token of the gateway key', async () => {
    const acme = tenant('acme');
    const expired = await gatewaySigned({ audience: 'coherence', tenants: [acme], iat: nowSeconds() - 70, exp: nowSeconds() - 10 });
    const answer = await callSubgraph(app.subgraphUrls.SUBGRAPH_COHERENCE_URL, { [INTERNAL_TOKEN_HEADER]: expired }, TENANT_COHERENCE, {
      tenantId: acme,
    });
    expect(answer.status).toBe(401);
    expect(answer.body.error?.code).toBe('INTERNAL_TOKEN_EXPIRED');
    // The control: the same token with live times is answered.
    const live = await gatewaySigned({ audience: 'coherence', tenants: [acme], iat: nowSeconds(), exp: nowSeconds() + 30 });
    const answered = await callSubgraph(app.subgraphUrls.SUBGRAPH_COHERENCE_URL, { [INTERNAL_TOKEN_HEADER]: live }, TENANT_COHERENCE, {
      tenantId: acme,
    });
    expect(answered).toMatchObject({ status: 200, body: { data: { tenantCoherence: { tenantId: acme, status: 'UNKNOWN' } } } });
  });
});

describe("a token replayed from another tenant's request", () => {
  it('is a 403 INTERNAL_TOKEN_TENANT_MISMATCH before any resolver runs, and answers for its own tenant', async () => {
    const [acme, globex] = [tenant('acme'), tenant('globex')];
    await app.registerTenant(acme);
    const minted = await readThroughGateway(acme);
    const headers = { [INTERNAL_TOKEN_HEADER]: minted };

    const replayed = await callSubgraph(ingestTarget, headers, INGEST_ENTITIES, { representations: [scoreOf(globex)] });
    expect(replayed.status).toBe(403);
    expect(replayed.body.data ?? null).toBeNull();
    expect(replayed.body.errors?.map((e) => e.extensions?.code)).toEqual(['INTERNAL_TOKEN_TENANT_MISMATCH']);
    // Smuggled in beside its own tenant, or as a literal argument, it is refused all the same.
    const beside = await callSubgraph(ingestTarget, headers, INGEST_ENTITIES, { representations: [scoreOf(acme), scoreOf(globex)] });
    expect(beside.body.errors?.map((e) => e.extensions?.code)).toEqual(['INTERNAL_TOKEN_TENANT_MISMATCH']);
    const literal = `{ _entities(representations: [{ __typename: "CoherenceScore", tenantId: "${globex}" }]) { __typename } }`;
    expect((await callSubgraph(ingestTarget, headers, literal)).status).toBe(403);

    const own = await callSubgraph(ingestTarget, headers, INGEST_ENTITIES, { representations: [scoreOf(acme)] });
    expect(own).toMatchObject({ status: 200, body: { data: { _entities: [{ tenantId: acme, ingest: { accepted24h: 0 } }] } } });
  });
});

describe('ingest listeners (item 3)', () => {
  it("serves no /graphql on the producers' port, and no /v1/signals on the subgraph's", async () => {
    const acme = tenant('acme');
    const onProducerPort = await callSubgraph(`${app.ingestUrl}/graphql`, {}, INGEST_ENTITIES, { representations: [scoreOf(acme)] });
    expect(onProducerPort).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND' } } });
    const signals = await fetch(new URL('/v1/signals', ingestTarget), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await app.writeHeaders(acme)) },
      body: JSON.stringify({ signals: [] }),
    });
    expect(signals.status).toBe(404);
  });
});

describe('what a signed call may ask (item 3)', () => {
  it('gets no introspection', async () => {
    const token = await gatewaySigned({ audience: 'ingest', tenants: [], iat: nowSeconds(), exp: nowSeconds() + 30 });
    const answer = await callSubgraph(ingestTarget, { [INTERNAL_TOKEN_HEADER]: token }, '{ __schema { types { name } } }');
    expect(answer.body.data ?? null).toBeNull();
    expect(answer.body.errors?.map((e) => e.extensions?.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('asks _entities for at most SUBGRAPH_MAX_REPRESENTATIONS (100) representations', async () => {
    const tenants = Array.from({ length: 101 }, (_, i) => tenant(`many-${i}`));
    const token = await gatewaySigned({ audience: 'ingest', tenants, iat: nowSeconds(), exp: nowSeconds() + 30 });
    const headers = { [INTERNAL_TOKEN_HEADER]: token };
    const over = await callSubgraph(ingestTarget, headers, INGEST_ENTITIES, { representations: tenants.map(scoreOf) });
    expect(over.status).toBe(400);
    expect(over.body.errors?.map((e) => e.extensions?.code)).toEqual(['TOO_MANY_REPRESENTATIONS']);
    const atCap = await callSubgraph(ingestTarget, headers, INGEST_ENTITIES, { representations: tenants.slice(0, 100).map(scoreOf) });
    expect(atCap.status).toBe(200);
    expect((atCap.body.data?.['_entities'] as unknown[]).length).toBe(100);
  });
});
