import { devArtifactSigningKeyPath, INTERNAL_TOKEN_ISSUER, INTERNAL_TOKEN_TYPE, readArtifactSigningKey } from '@coherence/auth';
import { computeTwilioSignature, createCommsService, readCommsConfig } from '@coherence/comms';
import { INTERNAL_TOKEN_HEADER, SUBGRAPH_MAX_BATCH } from '@coherence/contracts';
import { createGateway, readGatewayConfig } from '@coherence/gateway';
import { createConsumerService, readIngestConsumerConfig } from '@coherence/ingest';
import { costsPath, publishManifest, readCosts, readManifest, type Manifest } from '@coherence/persisted-queries';
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { POLICY_ENTRYPOINT, policyBundleDir, policyBundleFiles, policyBundleSha256, signPolicyBundle } from '@coherence/policy';
import { createTestDatabase, freePort, type ServiceRole, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { createRoleSessions, seedCommsTargets } from '@coherence/testkit';
import { importJWK, SignJWT, type JWK } from 'jose';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Issue 14's acceptance, black box: against the running application, each
 * attack on the service trust boundary is refused, one `describe` per
 * boundary. The whole file shares one application (`startApplication`) and
 * one test database; a boundary that needs more (a Kafka consumer, the comms
 * webhook listener, a released policy bundle and manifest) starts it in its
 * own `beforeAll`. A boundary added later gets a `describe` of its own here,
 * on the same application.
 *
 * The gateway calls ingest through a recording proxy, so a replayed internal
 * token is one the gateway really sent, not one the test made up; and it
 * loads its manifest and policy bundle from this file's directories, so the
 * signed-artifact attacks can swap them on disk and ask for a reload (what
 * SIGHUP does).
 */
const repoRoot = resolve(import.meta.dirname, '..');
const services = inject('services');
const logger = createLogger('test', 'silent');
const workDir = mkdtempSync(join(tmpdir(), 'coherence-boundary-'));

const devKey = readArtifactSigningKey(devArtifactSigningKeyPath);
const attackerKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const costs = readCosts(costsPath);
const v1Manifest = readManifest(join(repoRoot, 'persisted-queries/manifest.json'));
const tenantCoherenceId = v1Manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;
/** Where the gateway reads its manifest (a publication) and its policy bundle. */
const store = join(workDir, 'store');
const bundleDir = join(workDir, 'bundle');

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;
let proxy: Server;
/** The ingest subgraph's /graphql, behind the proxy. */
let ingestSubgraph: string;
/** The internal tokens the gateway sent to ingest, in order. */
const sentToIngest: string[] = [];

/** Forwards every call to ingest's subgraph listener unchanged, keeping the internal token it carried. */
function startRecordingProxy(port: number): Promise<Server> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const token = request.headers[INTERNAL_TOKEN_HEADER];
      if (typeof token === 'string') sentToIngest.push(token);
      const headers = Object.entries(request.headers).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
      // The same path on ingest's subgraph listener: /graphql, and /healthz when the gateway's readiness asks.
      void fetch(new URL(request.url!, ingestSubgraph), {
        method: request.method!,
        headers: headers.filter(([name]) => name !== 'host'),
        ...(request.method === 'GET' || request.method === 'HEAD' ? {} : { body: Buffer.concat(chunks) }),
      })
        .then(async (answer) => response.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text()))
        .catch(() => response.writeHead(502).end());
    });
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

/** A policy bundle made from the committed Wasm with its own data document and version, signed with `key` (the Wasm decides alike; the sha256 tells which bundle decided). */
async function writeBundle(dir: string, version: string, key: KeyObject = devKey): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const wasm = readFileSync(join(policyBundleDir, policyBundleFiles.wasm));
  const data = Buffer.from(JSON.stringify({ release: version }));
  const sha256 = policyBundleSha256(wasm, data);
  const manifest = { version, sha256, entrypoint: POLICY_ENTRYPOINT, opaVersion: 'test' };
  writeFileSync(join(dir, policyBundleFiles.wasm), wasm);
  writeFileSync(join(dir, policyBundleFiles.data), data);
  writeFileSync(join(dir, policyBundleFiles.manifest), JSON.stringify(manifest));
  await signPolicyBundle(dir, key);
  return sha256;
}

beforeAll(async () => {
  database = await createTestDatabase(services);
  // The gateway starts on publication 1 of the manifest and policy 1.1.0; the signed-artifact boundary releases newer ones.
  await publishManifest(store, v1Manifest, costs, devKey);
  cpSync(store, join(workDir, 'published-v1'), { recursive: true });
  await writeBundle(bundleDir, '1.1.0');
  const proxyPort = await freePort();
  proxy = await startRecordingProxy(proxyPort);
  app = await startApplication(services, database, {
    gatewayEnv: {
      SUBGRAPH_INGEST_URL: `http://127.0.0.1:${proxyPort}/graphql`,
      GATEWAY_MANIFEST_PATH: join(store, 'manifest.json'),
      GATEWAY_POLICY_BUNDLE_DIR: bundleDir,
    },
  });
  ingestSubgraph = app.subgraphUrls.SUBGRAPH_INGEST_URL;
  admin = createPgPool(database.adminUrl, { max: 2 });
});

afterAll(async () => {
  await app?.stop();
  await new Promise((resolve) => proxy?.close(resolve));
  await admin?.end();
  await database?.drop();
  rmSync(workDir, { recursive: true, force: true });
});

const tenant = (name: string) => `${database.namespace}-${name}`;

const subgraphNames = ['ingest', 'coherence', 'comms'] as const;
type SubgraphName = (typeof subgraphNames)[number];
const subgraphUrl = (name: SubgraphName) =>
  ({ ingest: ingestSubgraph, coherence: app.subgraphUrls.SUBGRAPH_COHERENCE_URL, comms: app.subgraphUrls.SUBGRAPH_COMMS_URL })[name];

interface AnswerBody {
  error?: { code: string; reason?: string; message?: string };
  data?: Record<string, unknown> | null;
  errors?: { extensions?: { code?: string } }[];
}

async function answerOf(response: Response) {
  return { status: response.status, body: (await response.json()) as AnswerBody };
}

/** POSTs a GraphQL request to `url` as any caller could. */
async function postGraphql(url: string, headers: Record<string, string>, query: string, variables: Record<string, unknown> = {}) {
  return answerOf(
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    }),
  );
}

/** The same request as a GET, its query and variables in the query string. */
async function getGraphql(url: string, headers: Record<string, string>, query: string, variables: Record<string, unknown> = {}) {
  return answerOf(await fetch(`${url}?${new URLSearchParams({ query, variables: JSON.stringify(variables) })}`, { headers }));
}

/** Runs a persisted operation on the gateway with `tenantId` as its variable and a token that may read it. */
async function runOnGateway(operationId: string, tenantId: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers, ...(await app.readHeaders(tenantId)) },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: operationId } }, variables: { tenantId } }),
  });
  return {
    status: response.status,
    body: (await response.json()) as {
      data?: { tenantCoherence: { tenantId: string; score: number | null; ingest: unknown } | null };
      errors?: { extensions: { code: string } }[];
    },
  };
}

/** Every subgraph resolves the score entity; this asks for some of it. */
const ENTITIES =
  'query($representations: [_Any!]!) { _entities(representations: $representations) { ... on CoherenceScore { tenantId } } }';
const scoreOf = (tenantId: string) => ({ __typename: 'CoherenceScore', tenantId });
const nowSeconds = () => Math.floor(Date.now() / 1_000);

interface InternalClaims {
  audience: string;
  tenants: string[];
  /** Default: now. */
  iat?: number;
  /** Default: 30 s after `iat`, as the gateway mints them. */
  exp?: number;
}

/** An internal token with the claims and times the test sets, signed with the gateway's own internal key. */
async function gatewaySigned(claims: InternalClaims): Promise<string> {
  const jwk = JSON.parse(readFileSync(app.internalKeys.privateKeyPath, 'utf8')) as JWK;
  return internalToken(claims, await importJWK(jwk, 'ES256'), jwk.kid!);
}

function internalToken(claims: InternalClaims, key: Parameters<SignJWT['sign']>[0], kid: string): Promise<string> {
  const iat = claims.iat ?? nowSeconds();
  return new SignJWT({ scope: 'coherence:read', tenants: claims.tenants, region: 'us', request_id: 'forged' })
    .setProtectedHeader({ alg: 'ES256', kid, typ: INTERNAL_TOKEN_TYPE })
    .setIssuer(INTERNAL_TOKEN_ISSUER)
    .setAudience(claims.audience)
    .setSubject('mallory')
    .setIssuedAt(iat)
    .setExpirationTime(claims.exp ?? iat + 30)
    .sign(key);
}

const internalHeaders = (token: string) => ({ [INTERNAL_TOKEN_HEADER]: token });

let nextSignalId = 0;
/** A valid signal of `tenantId`, a minute old, never sent before. */
const signalOf = (tenantId: string) => ({
  tenantId,
  source: 'boundary',
  signalId: `b-${(nextSignalId += 1)}`,
  ts: new Date(Date.now() - 60_000).toISOString(),
  type: 'latency',
  value: 0.5,
});

/**
 * What the internet reaches besides the gateway (ingest's producers' port,
 * comms' webhooks' port) serves no GraphQL at all, whatever a request
 * carries; each still serves what it is for (the controls).
 */
describe('public listeners: no GraphQL', () => {
  const twilioAuthToken = 'boundary-twilio-token';
  const commsPublicUrl = 'https://comms.boundary.test';
  let comms: Awaited<ReturnType<typeof createCommsService>>;
  let commsInbound: string;

  beforeAll(async () => {
    // The comms process's listener for the internet, its webhooks, configured as in production
    // (startApplication serves comms' subgraph listener only).
    comms = await createCommsService(
      readCommsConfig({
        COMMS_DATABASE_URL: database.urls.comms,
        SUBGRAPH_INTERNAL_JWKS: app.internalKeys.jwksPath,
        COMMS_TWILIO_AUTH_TOKEN: twilioAuthToken,
        COMMS_PUBLIC_URL: commsPublicUrl,
      }),
      logger,
    );
    await comms.inbound.listen({ port: 0, host: '127.0.0.1' });
    commsInbound = `http://127.0.0.1:${(comms.inbound.server.address() as AddressInfo).port}`;
  });

  afterAll(() => comms?.close());

  const publicListeners = [
    ['the ingest producers’ port', 'ingest', () => app.ingestUrl],
    ['the comms webhooks’ port', 'comms', () => commsInbound],
  ] as const;

  it.each(publicListeners)(
    '%s answers 404 to /graphql: POST and GET, anonymous, with a producer token or a valid internal token, _entities of another tenant included',
    async (_name, subgraph, baseUrl) => {
      const [acme, globex] = [tenant('acme'), tenant('globex')];
      const graphql = `${baseUrl()}/graphql`;
      const producer = await app.writeHeaders(acme);
      const gatewayToken = internalHeaders(await gatewaySigned({ audience: subgraph, tenants: [globex] }));
      const entities = { representations: [scoreOf(globex)] };
      const posted = [
        await postGraphql(graphql, {}, '{ __typename }'),
        await postGraphql(graphql, {}, ENTITIES, entities),
        await postGraphql(graphql, producer, ENTITIES, entities),
        await postGraphql(graphql, gatewayToken, ENTITIES, entities),
      ];
      const got = [
        await getGraphql(graphql, {}, '{ __typename }'),
        await getGraphql(graphql, producer, ENTITIES, entities),
        await getGraphql(graphql, gatewayToken, ENTITIES, entities),
      ];
      for (const answer of [...posted, ...got]) {
        expect(answer).toEqual({ status: 404, body: { error: { code: 'NOT_FOUND', message: expect.any(String) } } });
      }
    },
  );

  it('the ingest producers’ port takes signals, and the ingest subgraph’s listener does not', async () => {
    const producer = tenant('producer');
    const headers = { 'content-type': 'application/json', ...(await app.writeHeaders(producer)) };
    const push = (baseUrl: string) =>
      fetch(new URL('/v1/signals', baseUrl), { method: 'POST', headers, body: JSON.stringify({ signals: [signalOf(producer)] }) });
    expect((await push(ingestSubgraph)).status).toBe(404);
    expect((await push(app.ingestUrl)).status).toBe(202);
  });

  it('the comms webhooks’ port takes a message Twilio signed, and refuses an unsigned one', async () => {
    const acme = tenant('acme');
    await app.registerTenant(acme);
    const path = `/v1/inbound/twilio/${acme}`;
    const form = { MessageSid: `SM${randomBytes(16).toString('hex')}`, From: '+15550000001', Body: 'hello' };
    const post = (headers: Record<string, string>) =>
      fetch(`${commsInbound}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(form).toString(),
      });
    const unsigned = await post({});
    expect(unsigned.status).toBe(403);
    expect(((await unsigned.json()) as AnswerBody).error?.code).toBe('SIGNATURE_INVALID');
    const signed = await post({ 'x-twilio-signature': computeTwilioSignature(twilioAuthToken, `${commsPublicUrl}${path}`, form) });
    expect(signed.status).toBe(200);
  });
});

/**
 * `/metrics` and `/readyz` are served on each process's admin listener only
 * (ADR 0016). Every public or internal service port (the gateway, ingest's
 * producers and subgraph, the coherence subgraph, comms' subgraph and inbound
 * webhooks) refuses them as any unknown route, with a 404 NOT_FOUND that
 * carries no check result and no metric, however the path is spelled; each
 * admin listener serves them.
 */
describe('admin listeners: no readiness or metrics on a service port', () => {
  const probes = [
    '/readyz',
    '/metrics',
    '/readyz?verbose=1',
    '/metrics?name[]=process_cpu_user_seconds_total',
    '/metrics/',
    '//readyz',
    '/%72eadyz',
  ];

  it.each(['gateway', 'ingest', 'ingestSubgraph', 'coherence', 'comms', 'commsInbound'] as const)(
    '%s: /readyz and /metrics are 404 NOT_FOUND, with neither checks nor metrics in the body',
    async (listener) => {
      for (const probe of probes) {
        for (const method of ['GET', 'HEAD', 'POST'] as const) {
          const response = await fetch(`${app.serviceUrls[listener]}${probe}`, { method });
          const body = await response.text();
          expect({ probe, method, status: response.status }).toEqual({ probe, method, status: 404 });
          if (method === 'HEAD') continue;
          expect(body).toMatch(/"NOT_FOUND"/);
          expect(body).not.toMatch(/checks|process_cpu|http_request_duration/);
        }
      }
    },
  );

  it.each(['gateway', 'ingest', 'coherence', 'comms'] as const)('%s: its admin listener serves them', async (process) => {
    const ready = await fetch(`${app.adminUrls[process]}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: expect.arrayContaining([{ name: 'postgres', ok: true }]) });
    expect(await (await fetch(`${app.adminUrls[process]}/metrics`)).text()).toContain('process_cpu_user_seconds_total');
  });
});

/** Anything but a valid token of the gateway for this subgraph, with the code of its 401. */
const attacks: [string, string, (audience: SubgraphName) => Promise<Record<string, string>>][] = [
  ['no token', 'INTERNAL_TOKEN_MISSING', async () => ({})],
  [
    'the plain headers subgraphs trusted before',
    'INTERNAL_TOKEN_MISSING',
    async () => ({ 'x-coherence-subject': 'mallory', 'x-coherence-gateway-region': 'us', 'x-coherence-region': 'us' }),
  ],
  [
    'a token forged with another key under the gateway key’s id',
    'INTERNAL_TOKEN_INVALID',
    async (audience) => {
      const { kid } = JSON.parse(readFileSync(app.internalKeys.privateKeyPath, 'utf8')) as JWK;
      const forger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      return internalHeaders(await internalToken({ audience, tenants: [tenant('globex')] }, forger, kid!));
    },
  ],
  [
    'an unsigned token (alg none)',
    'INTERNAL_TOKEN_INVALID',
    async (audience) => {
      const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
      const [iat, tenants] = [nowSeconds(), [tenant('globex')]];
      const claims = { iss: INTERNAL_TOKEN_ISSUER, aud: audience, sub: 'mallory', iat, exp: iat + 30, tenants, region: 'us' };
      return internalHeaders(
        `${encode({ alg: 'none', typ: INTERNAL_TOKEN_TYPE })}.${encode({ ...claims, scope: 'coherence:read', request_id: 'x' })}.`,
      );
    },
  ],
  [
    'a token of the gateway minted for another subgraph',
    'INTERNAL_TOKEN_AUDIENCE_INVALID',
    async (audience) =>
      internalHeaders(await gatewaySigned({ audience: audience === 'ingest' ? 'coherence' : 'ingest', tenants: [tenant('globex')] })),
  ],
  [
    'an expired token of the gateway',
    'INTERNAL_TOKEN_EXPIRED',
    async (audience) =>
      internalHeaders(await gatewaySigned({ audience, tenants: [tenant('globex')], iat: nowSeconds() - 70, exp: nowSeconds() - 10 })),
  ],
  [
    'a token of the gateway that lives longer than 60 s',
    'INTERNAL_TOKEN_INVALID',
    async (audience) => internalHeaders(await gatewaySigned({ audience, tenants: [tenant('globex')], exp: nowSeconds() + 3_600 })),
  ],
];

/**
 * Each subgraph answers the gateway's signed calls only (ADR 0011): any other
 * call is a 401 before its body is read, a token replayed with a call about
 * another tenant a 403 before any resolver runs; and a signed call gets no
 * introspection and a bounded `_entities`.
 */
describe('internal token: a subgraph answers the gateway’s signed calls only', () => {
  describe.each(subgraphNames)('at %s', (name) => {
    it.each(attacks)('%s is a 401 %s before anything is read', async (_attack, code, headers) => {
      const answer = await postGraphql(subgraphUrl(name), await headers(name), ENTITIES, { representations: [scoreOf(tenant('globex'))] });
      expect(answer).toEqual({ status: 401, body: { error: { code, message: expect.any(String) } } });
    });

    it('answers the same call with a valid token of the gateway (the control)', async () => {
      const globex = tenant('globex');
      const token = await gatewaySigned({ audience: name, tenants: [globex] });
      const answer = await postGraphql(subgraphUrl(name), internalHeaders(token), ENTITIES, { representations: [scoreOf(globex)] });
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data?.['_entities']).toHaveLength(1);
    });

    it('gets no introspection from a signed call', async () => {
      const token = await gatewaySigned({ audience: name, tenants: [] });
      const answer = await postGraphql(subgraphUrl(name), internalHeaders(token), '{ __schema { types { name } } }');
      expect(answer.body.data ?? null).toBeNull();
      expect(answer.body.errors?.map((e) => e.extensions?.code)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    });

    it('asks _entities for at most SUBGRAPH_MAX_REPRESENTATIONS (100) representations', async () => {
      const tenants = Array.from({ length: 101 }, (_, i) => tenant(`many-${i}`));
      const headers = internalHeaders(await gatewaySigned({ audience: name, tenants }));
      const over = await postGraphql(subgraphUrl(name), headers, ENTITIES, { representations: tenants.map(scoreOf) });
      expect(over.status).toBe(400);
      expect(over.body.errors?.map((e) => e.extensions?.code)).toEqual(['TOO_MANY_REPRESENTATIONS']);
      const atCap = await postGraphql(subgraphUrl(name), headers, ENTITIES, { representations: tenants.slice(0, 100).map(scoreOf) });
      expect(atCap.status).toBe(200);
      expect(atCap.body.data?.['_entities']).toHaveLength(100);
    });
  });

  /** Reads `tenantId`'s score through the gateway, which calls ingest through the proxy; returns the token ingest got. */
  async function mintedByGateway(tenantId: string): Promise<string> {
    const before = sentToIngest.length;
    const { body } = await runOnGateway(tenantCoherenceId, tenantId);
    expect(body.errors).toBeUndefined();
    expect(body.data?.tenantCoherence).toMatchObject({ tenantId, ingest: { accepted24h: 0 } });
    expect(sentToIngest.length).toBe(before + 1);
    return sentToIngest.at(-1)!;
  }

  it.each(['coherence', 'comms'] as const)(
    'a token the gateway really minted for ingest, replayed at %s, is a 401 INTERNAL_TOKEN_AUDIENCE_INVALID',
    async (name) => {
      const acme = tenant('acme');
      const forIngest = await mintedByGateway(acme);
      const answer = await postGraphql(subgraphUrl(name), internalHeaders(forIngest), ENTITIES, { representations: [scoreOf(acme)] });
      expect(answer).toEqual({ status: 401, body: { error: { code: 'INTERNAL_TOKEN_AUDIENCE_INVALID', message: expect.any(String) } } });
    },
  );

  it("a token replayed from another tenant's request is a 403 INTERNAL_TOKEN_TENANT_MISMATCH before any resolver runs, and answers for its own tenant", async () => {
    const [acme, globex] = [tenant('acme'), tenant('globex')];
    const headers = internalHeaders(await mintedByGateway(acme));
    const ingestEntities =
      'query($r: [_Any!]!) { _entities(representations: $r) { ... on CoherenceScore { tenantId ingest { accepted24h } } } }';

    const replayed = await postGraphql(ingestSubgraph, headers, ingestEntities, { r: [scoreOf(globex)] });
    expect(replayed.status).toBe(403);
    expect(replayed.body.data ?? null).toBeNull();
    expect(replayed.body.errors?.map((e) => e.extensions?.code)).toEqual(['INTERNAL_TOKEN_TENANT_MISMATCH']);
    // Smuggled in beside its own tenant, or as a literal argument, it is refused all the same.
    const beside = await postGraphql(ingestSubgraph, headers, ingestEntities, { r: [scoreOf(acme), scoreOf(globex)] });
    expect(beside.body.errors?.map((e) => e.extensions?.code)).toEqual(['INTERNAL_TOKEN_TENANT_MISMATCH']);
    const literal = `{ _entities(representations: [{ __typename: "CoherenceScore", tenantId: "${globex}" }]) { __typename } }`;
    expect((await postGraphql(ingestSubgraph, headers, literal)).status).toBe(403);

    const own = await postGraphql(ingestSubgraph, headers, ingestEntities, { r: [scoreOf(acme)] });
    expect(own).toMatchObject({ status: 200, body: { data: { _entities: [{ tenantId: acme, ingest: { accepted24h: 0 } }] } } });
  });
});

/**
 * A batched call (docs/adr/0037-batched-subgraph-calls.md): one HTTP call, an
 * array of operations, one token per operation in the header. Each operation
 * must stand on its own token: none borrows another's tenants, one bad token
 * refuses the call, and the counts must match.
 */
describe('batched subgraph calls: each operation answers to its own token', () => {
  /** POSTs `operations` in one call with `tokens` as the gateway joins them. */
  async function postBatch(url: string, tokens: string[], operations: unknown) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [INTERNAL_TOKEN_HEADER]: tokens.join(',') },
      body: JSON.stringify(operations),
    });
    return { status: response.status, body: (await response.json()) as unknown };
  }
  const entitiesOf = (tenantId: string) => ({ query: ENTITIES, variables: { representations: [scoreOf(tenantId)] } });
  const answered = (tenantId: string) => ({ status: 200, body: { data: { _entities: [{ tenantId }] } } });

  describe.each(subgraphNames)('at %s', (name) => {
    it('runs each operation with its own token and answers each in its place', async () => {
      const [acme, globex] = [tenant('acme'), tenant('globex')];
      const tokens = [await gatewaySigned({ audience: name, tenants: [acme] }), await gatewaySigned({ audience: name, tenants: [globex] })];
      expect(await postBatch(subgraphUrl(name), tokens, [entitiesOf(acme), entitiesOf(globex)])).toEqual({
        status: 200,
        body: [answered(acme), answered(globex)],
      });
    });

    it("refuses an operation naming the tenant of another operation's token (403 INTERNAL_TOKEN_TENANT_MISMATCH), and answers the rest", async () => {
      const [acme, globex] = [tenant('acme'), tenant('globex')];
      const tokens = [await gatewaySigned({ audience: name, tenants: [acme] }), await gatewaySigned({ audience: name, tenants: [globex] })];
      const { status, body } = await postBatch(subgraphUrl(name), tokens, [entitiesOf(globex), entitiesOf(globex)]);
      expect(status).toBe(200);
      const [borrowed, own] = body as { status: number; body: AnswerBody }[];
      expect(borrowed!.status).toBe(403);
      expect(borrowed!.body.errors?.map((e) => e.extensions?.code)).toEqual(['INTERNAL_TOKEN_TENANT_MISMATCH']);
      expect(borrowed!.body.data ?? null).toBeNull();
      expect(own).toEqual(answered(globex));
    });

    it.each(attacks)('one token that is %s among valid ones is a 401 %s for the whole call', async (_attack, code, headers) => {
      const acme = tenant('acme');
      const bad = (await headers(name))[INTERNAL_TOKEN_HEADER] ?? '';
      const valid = await gatewaySigned({ audience: name, tenants: [acme] });
      expect(await postBatch(subgraphUrl(name), [valid, bad], [entitiesOf(acme), entitiesOf(acme)])).toEqual({
        status: 401,
        body: { error: { code, message: expect.any(String) } },
      });
    });
  });

  it.each([
    ['two tokens with one operation', 2, entitiesOf('-')],
    ['two tokens with three operations', 2, [entitiesOf('-'), entitiesOf('-'), entitiesOf('-')]],
    ['one token with two operations', 1, [entitiesOf('-'), entitiesOf('-')]],
  ])('%s is a 400 INTERNAL_BATCH_INVALID, nothing run', async (_case, count, operations) => {
    const tokens = await Promise.all(Array.from({ length: count }, () => gatewaySigned({ audience: 'ingest', tenants: ['-'] })));
    expect(await postBatch(ingestSubgraph, tokens, operations)).toEqual({
      status: 400,
      body: { error: { code: 'INTERNAL_BATCH_INVALID', message: expect.any(String) } },
    });
  });

  it(`more than SUBGRAPH_MAX_BATCH (${SUBGRAPH_MAX_BATCH}) tokens is a 400 INTERNAL_BATCH_INVALID before any is verified`, async () => {
    const garbage = Array.from({ length: SUBGRAPH_MAX_BATCH + 1 }, () => 'not-a-token');
    expect(await postBatch(ingestSubgraph, garbage, [])).toEqual({
      status: 400,
      body: { error: { code: 'INTERNAL_BATCH_INVALID', message: expect.stringContaining(`at most ${SUBGRAPH_MAX_BATCH}`) } },
    });
  });
});

/**
 * Each process connects as its own Postgres role (ADR 0015). Someone holding
 * one process's database URL tries what that process has no business doing:
 * each attempt is refused (42501) or sees nothing, and the data stays as it
 * was.
 */
describe('database roles: a stolen service URL is refused what its process never does', () => {
  let sessions: ReturnType<typeof createRoleSessions<ServiceRole>>;
  let scoreBefore: unknown[];
  const home = () => tenant('roles-us');
  const abroad = () => tenant('roles-eu');

  beforeAll(async () => {
    await app.registerTenant(abroad(), 'eu');
    const response = await fetch(`${app.ingestUrl}/v1/signals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await app.writeHeaders(home())) },
      body: JSON.stringify({ signals: [signalOf(home())] }),
    });
    expect(response.status).toBe(202);
    await app.relay.drainAll();
    scoreBefore = (await admin.query('SELECT status, score FROM coherence_scores WHERE tenant_id = $1', [home()])).rows;
    expect(scoreBefore).toHaveLength(1);
    for (const tenantId of [home(), abroad()]) await seedCommsTargets(admin, tenantId);
    sessions = createRoleSessions(database.urls);
  });

  afterAll(async () => {
    await sessions?.close();
  });

  const permissionDenied = { code: '42501', message: expect.stringMatching(/^permission denied/) };

  it("ingest's: rewrite a tenant's webhook URL, read its commands", async () => {
    await expect(sessions.asTenant('ingest', home(), `UPDATE comms_contacts SET url = 'https://evil.example'`)).rejects.toMatchObject(
      permissionDenied,
    );
    await expect(sessions.asTenant('ingest', home(), 'SELECT payload FROM dispatch_commands')).rejects.toMatchObject(permissionDenied);
  });

  it("the gateway's: read the signal ledger or the outbox", async () => {
    await expect(sessions.asTenant('gateway', home(), 'SELECT * FROM signal_ledger')).rejects.toMatchObject(permissionDenied);
    await expect(sessions.asTenant('gateway', home(), 'SELECT envelope FROM outbox')).rejects.toMatchObject(permissionDenied);
  });

  it("coherence's: overwrite the score it serves", async () => {
    await expect(sessions.asTenant('coherence', home(), `UPDATE coherence_scores SET status = 'HEALTHY'`)).rejects.toMatchObject(
      permissionDenied,
    );
  });

  it("the relay's: read where notifications go", async () => {
    await expect(sessions.asTenant('relay', home(), 'SELECT url FROM comms_contacts')).rejects.toMatchObject(permissionDenied);
  });

  it("retention's: read what a signal or a command carries", async () => {
    await expect(sessions.asTenant('retention', home(), 'SELECT provenance FROM signal_ledger')).rejects.toMatchObject(permissionDenied);
    await expect(sessions.asTenant('retention', home(), 'SELECT payload FROM dispatch_commands')).rejects.toMatchObject(permissionDenied);
  });

  it("comms': open every tenant with the old operator setting, or another region's with operator access", async () => {
    const everyone = await sessions.rolledBack('comms', async (c) => {
      await c.query(`SELECT set_config('app.comms_operator', 'on', true)`);
      return (await c.query('SELECT tenant_id FROM dispatch_commands')).rows;
    });
    expect(everyone).toEqual([]);
    const usOperator = await sessions.rolledBack('comms', async (c) => {
      await c.query(`SELECT comms_operator_access('us')`);
      return (await c.query('SELECT tenant_id FROM dispatch_commands WHERE tenant_id = ANY($1) ORDER BY 1', [[home(), abroad()]])).rows;
    });
    expect(usOperator).toEqual([{ tenant_id: home() }]);
    await expect(sessions.asTenant('comms', home(), `UPDATE comms_contacts SET url = 'https://evil.example'`)).rejects.toMatchObject(
      permissionDenied,
    );
  });

  it('left every row as it was', async () => {
    const contacts = await admin.query('SELECT DISTINCT url FROM comms_contacts WHERE tenant_id = ANY($1)', [[home(), abroad()]]);
    expect(contacts.rows).toEqual([{ url: 'https://example.com/hook' }]);
    const score = await admin.query('SELECT status, score FROM coherence_scores WHERE tenant_id = $1', [home()]);
    expect(score.rows).toEqual(scoreBefore);
  });
});

/**
 * Writes reach the ledger only for a tenant registered in ingest's region
 * (ADR 0013), over HTTP (a valid producer token is not enough) and over Kafka
 * (a trusted producer is not either). Each attack leaves nothing in the
 * ledger or the read model and a decision row that names no tenant of the
 * attacker's choosing; Kafka's partition keeps flowing.
 */
describe('ingest write policy: only registered tenants of ingest’s region are written', () => {
  let consumer: Awaited<ReturnType<typeof createConsumerService>>;
  let kafkaAdmin: Admin;
  let producer: Producer;
  let topic: string;
  let dlqTopic: string;
  let groupId: string;

  beforeAll(async () => {
    await app.registerTenant(tenant('home'));
    await app.registerTenant(tenant('abroad'), 'eu');
    topic = `${database.namespace}.boundary.signals`;
    dlqTopic = `${database.namespace}.boundary.dlq`;
    groupId = `${database.namespace}-boundary`;
    consumer = await createConsumerService(
      readIngestConsumerConfig({
        INGEST_DATABASE_URL: database.urls.ingest,
        INGEST_REGION: 'us',
        INGEST_DECISION_FLUSH_MS: '20',
        KAFKA_BROKERS: services.kafkaBrokers.join(','),
        INGEST_SIGNALS_TOPIC: topic,
        INGEST_SIGNALS_DLQ_TOPIC: dlqTopic,
        INGEST_CONSUMER_GROUP: groupId,
        INGEST_TOPIC_PARTITIONS: '1',
      }),
      logger,
    );
    const kafka = new Kafka({ clientId: 'boundary-ingest-policy', brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING });
    kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    producer = kafka.producer();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect();
    await kafkaAdmin?.disconnect();
    await consumer?.close();
  });

  async function push(tenantId: string, claims: { tenant: string; residency?: string[] }) {
    const correlationId = randomUUID();
    const bearer = await app.mintToken({ ...claims, scopes: ['coherence:write:self'] });
    const response = await fetch(`${app.ingestUrl}/v1/signals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}`, 'x-request-id': correlationId },
      body: JSON.stringify({ signals: [signalOf(tenantId)] }),
    });
    return { ...(await answerOf(response)), correlationId };
  }

  async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(100);
    }
  }

  /** The decisions filed for `correlationIds`: tenant, reason and whether allowed. */
  async function decisions(correlationIds: string[], atLeast: number) {
    const read = async () =>
      (
        await admin.query<{ tenant_id: string; reason_code: string; allow: boolean }>(
          'SELECT tenant_id, reason_code, allow FROM policy_decisions WHERE correlation_id = ANY($1) ORDER BY decided_at',
          [correlationIds],
        )
      ).rows;
    await waitFor(`${atLeast} decisions`, async () => (await read()).length >= atLeast, 5_000);
    return read();
  }

  const ledgerCount = async (tenantId: string) =>
    (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM signal_ledger WHERE tenant_id = $1', [tenantId])).rows[0]!.n;

  describe('HTTP: a valid producer token is not enough to write', () => {
    it('a token minted for a tenant nobody registered: 403 TENANT_UNKNOWN, nothing stored, the decision filed under -', async () => {
      const madeUp = tenant('made-up');
      const { status, body, correlationId } = await push(madeUp, { tenant: madeUp });
      expect(status).toBe(403);
      expect(body.error?.code).toBe('TENANT_UNKNOWN');
      expect(await ledgerCount(madeUp)).toBe(0);
      expect(await decisions([correlationId], 1)).toEqual([{ tenant_id: '-', reason_code: 'TENANT_UNKNOWN', allow: false }]);
    });

    it('a tenant residing in eu pushing to the us ingest, its token claiming us: 403 RESIDENCY_VIOLATION, nothing stored', async () => {
      const { status, body, correlationId } = await push(tenant('abroad'), { tenant: tenant('abroad'), residency: ['us', 'eu'] });
      expect(status).toBe(403);
      expect(body.error).toMatchObject({ code: 'FORBIDDEN', reason: 'RESIDENCY_VIOLATION' });
      expect(await ledgerCount(tenant('abroad'))).toBe(0);
      expect(await decisions([correlationId], 1)).toEqual([
        { tenant_id: tenant('abroad'), reason_code: 'RESIDENCY_VIOLATION', allow: false },
      ]);
    });

    it('a token that may not act in us, for a tenant residing in us: 403 RESIDENCY_VIOLATION', async () => {
      const { status, body } = await push(tenant('home'), { tenant: tenant('home'), residency: ['eu'] });
      expect(status).toBe(403);
      expect(body.error).toMatchObject({ code: 'FORBIDDEN', reason: 'RESIDENCY_VIOLATION' });
    });

    it('probing whether another tenant is registered learns nothing: TENANT_MISMATCH either way, no decision filed', async () => {
      const registered = await push(tenant('abroad'), { tenant: tenant('home') });
      const unregistered = await push(tenant('nobody'), { tenant: tenant('home') });
      expect([registered.status, registered.body.error?.reason]).toEqual([403, 'TENANT_MISMATCH']);
      expect([unregistered.status, unregistered.body.error?.reason]).toEqual([403, 'TENANT_MISMATCH']);
      // The mismatch is refused before the policy is asked, so nothing is decided about either tenant.
      await sleep(200);
      const { rows } = await admin.query('SELECT 1 FROM policy_decisions WHERE correlation_id = ANY($1)', [
        [registered.correlationId, unregistered.correlationId],
      ]);
      expect(rows).toEqual([]);
    });

    it('the registered home tenant is written and read back through the gateway: 202 and an ALLOWED decision', async () => {
      const { status, correlationId } = await push(tenant('home'), { tenant: tenant('home') });
      expect(status).toBe(202);
      expect(await decisions([correlationId], 1)).toEqual([{ tenant_id: tenant('home'), reason_code: 'ALLOWED', allow: true }]);
      await app.relay.drainAll();
      const { body } = await runOnGateway(tenantCoherenceId, tenant('home'));
      expect(body.data?.tenantCoherence?.score).toBe(0.5);
    });
  });

  describe('Kafka: a trusted producer cannot write tenants that are not registered here', () => {
    it('dead-letters a flood of made-up tenants and an eu tenant with their reasons, stores the good records behind them, and files no decision under a made-up name', async () => {
      const requestId = randomUUID();
      const record = (tenantId: string) => ({
        key: tenantId,
        value: JSON.stringify(signalOf(tenantId)),
        headers: { 'x-request-id': requestId },
      });
      const madeUp = Array.from({ length: 200 }, (_, i) => tenant(`flood-${i}`));
      const before = await ledgerCount(tenant('home'));
      await producer.send({
        topic,
        acks: -1,
        messages: [...madeUp.map(record), record(tenant('abroad')), record(tenant('home')), record(tenant('home'))],
      });
      await waitFor('the partition to be consumed', async () => {
        const [ends, committed] = await Promise.all([
          kafkaAdmin.fetchTopicOffsets(topic),
          kafkaAdmin.fetchOffsets({ groupId, topics: [topic] }),
        ]);
        return Number(committed[0]!.partitions[0]!.offset) === Number(ends[0]!.high);
      });

      expect(await ledgerCount(tenant('home'))).toBe(before + 2);
      const { rows: stored } = await admin.query('SELECT 1 FROM signal_ledger WHERE tenant_id = ANY($1)', [[...madeUp, tenant('abroad')]]);
      expect(stored).toEqual([]);
      const dlq = (await kafkaAdmin.fetchTopicOffsets(dlqTopic)).reduce((sum, p) => sum + Number(p.high), 0);
      expect(dlq).toBe(201);
      const metrics = await consumer.admin.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toContain('ingest_dlq_records_total{code="TENANT_UNKNOWN"} 200');
      expect(metrics.body).toContain('ingest_dlq_records_total{code="RESIDENCY_VIOLATION"} 1');

      const filed = await decisions([requestId], 202);
      expect(filed.filter((d) => d.reason_code === 'TENANT_UNKNOWN').every((d) => d.tenant_id === '-')).toBe(true);
      expect(new Set(filed.map((d) => `${d.tenant_id} ${d.reason_code}`))).toEqual(
        new Set(['- TENANT_UNKNOWN', `${tenant('abroad')} RESIDENCY_VIOLATION`, `${tenant('home')} ALLOWED`]),
      );
    });
  });
});

/**
 * The gateway takes a policy bundle or a manifest only when signed by the
 * pinned key and not older than the active one (ADR 0012). Each attack swaps
 * files on disk and reloads; the request after it is still decided by the
 * artifact active before, and the refusal is a security event and a metric.
 */
describe('signed policy bundles and manifests: taken only when signed by the pinned key and not older', () => {
  const statusBody = 'query TenantStatus($tenantId: ID!) {\n  tenantCoherence(tenantId: $tenantId) {\n    status\n  }\n}';
  const statusOperation = {
    id: createHash('sha256').update(statusBody).digest('hex'),
    name: 'TenantStatus',
    type: 'query' as const,
    body: statusBody,
  };
  const v2Manifest: Manifest = { ...v1Manifest, operations: [...v1Manifest.operations, statusOperation] };
  const v2Costs = { ...costs, TenantStatus: { base: 1 } };
  let releasedBundle: string;

  beforeAll(async () => {
    // The release the attacks try to replace: policy 1.2.0 and manifest publication 2, both properly signed.
    releasedBundle = await writeBundle(bundleDir, '1.2.0');
    await publishManifest(store, v2Manifest, v2Costs, devKey);
    await app.gateway.reload();
    cpSync(store, join(workDir, 'published-v2'), { recursive: true });
    cpSync(bundleDir, join(workDir, 'released-bundle'), { recursive: true });
  });

  /** The security events the gateway wrote about an artifact from `source`, by kind and reason. */
  async function artifactEvents(source: string): Promise<{ kind: string; reason: string }[]> {
    await app.gateway.flushSecurityEvents();
    const { rows } = await admin.query<{ kind: string; reason: string }>(
      "SELECT kind, reason FROM security_events WHERE kind LIKE 'ARTIFACT_%' AND details->>'source' = $1 ORDER BY id",
      [source],
    );
    return rows;
  }

  const refusalsCounted = async (artifact: string, reason: string) =>
    expect(await (await fetch(`${app.adminUrls.gateway}/metrics`)).text()).toMatch(
      new RegExp(`gateway_artifact_activations_total\\{artifact="${artifact}",outcome="refused",reason="${reason}"\\} [1-9]`),
    );

  /** Runs `operationId` for this boundary's tenant, with a trace id to find its audit row by. */
  async function run(operationId: string): Promise<{ status: number; code?: string; correlationId: string }> {
    const correlationId = randomBytes(16).toString('hex');
    const { status, body } = await runOnGateway(operationId, tenant('signed'), { traceparent: `00-${correlationId}-${'a'.repeat(16)}-01` });
    return { status, code: body.errors?.[0]?.extensions.code, correlationId };
  }

  /** The bundle that decided a request, from its audit row. */
  async function decidingBundle(correlationId: string): Promise<string | null> {
    await app.gateway.flushDecisions();
    const { rows } = await admin.query<{ bundle_sha256: string | null }>(
      'SELECT bundle_sha256 FROM policy_decisions WHERE correlation_id = $1',
      [correlationId],
    );
    return rows[0]?.bundle_sha256 ?? null;
  }

  describe('policy bundles', () => {
    it('activates a newer bundle signed by the pinned key, and records it', async () => {
      const { status, correlationId } = await run(tenantCoherenceId);
      expect(status).toBe(200);
      expect(await decidingBundle(correlationId)).toBe(releasedBundle);
      expect(await artifactEvents(bundleDir)).toEqual(expect.arrayContaining([{ kind: 'ARTIFACT_ACTIVATED', reason: 'ACTIVATED' }]));
    });

    it.each([
      [
        'a data document changed after signing',
        'HASH_MISMATCH',
        async () => writeFileSync(join(bundleDir, policyBundleFiles.data), '{"release":"evil"}'),
      ],
      ['an unsigned bundle', 'UNSIGNED', async () => rmSync(join(bundleDir, policyBundleFiles.signatures))],
      ['a bundle signed by another key', 'SIGNATURE_INVALID', async () => void (await writeBundle(bundleDir, '9.0.0', attackerKey))],
      ['an older bundle, properly signed (a replay)', 'ROLLBACK', async () => void (await writeBundle(bundleDir, '1.1.0'))],
    ])('refuses %s; the active bundle keeps deciding', async (_name, reason, attack) => {
      cpSync(join(workDir, 'released-bundle'), bundleDir, { recursive: true });
      await attack();
      await app.gateway.reload();
      const { status, correlationId } = await run(tenantCoherenceId);
      expect(status).toBe(200);
      expect(await decidingBundle(correlationId)).toBe(releasedBundle);
      expect(await artifactEvents(bundleDir)).toEqual(expect.arrayContaining([{ kind: 'ARTIFACT_REFUSED', reason }]));
      await refusalsCounted('policy', reason);
    });
  });

  describe('persisted-operation manifests', () => {
    it('serves a publication signed by the pinned key', async () => {
      expect(await run(statusOperation.id)).toMatchObject({ status: 200 });
      expect(await artifactEvents(join(store, 'manifest.json'))).toEqual(
        expect.arrayContaining([{ kind: 'ARTIFACT_ACTIVATED', reason: 'ACTIVATED' }]),
      );
    });

    it.each([
      [
        'a publication signed by another key',
        'SIGNATURE_INVALID',
        async () => void (await publishManifest(store, v1Manifest, costs, attackerKey)),
      ],
      [
        'a manifest changed after signing',
        'HASH_MISMATCH',
        async () => writeFileSync(join(store, 'manifest.json'), JSON.stringify(v1Manifest)),
      ],
      ['an unsigned manifest', 'UNSIGNED', async () => rmSync(join(store, '.signatures.json'))],
      [
        'an older publication, properly signed (a replay)',
        'ROLLBACK',
        async () => cpSync(join(workDir, 'published-v1'), store, { recursive: true }),
      ],
    ])('refuses %s at reload; the active operations stay', async (_name, reason, attack) => {
      cpSync(join(workDir, 'published-v2'), store, { recursive: true });
      await attack();
      await app.gateway.reload();
      // Each attack would drop TenantStatus: it still runs, so the publication active before still answers.
      expect(await run(statusOperation.id)).toMatchObject({ status: 200 });
      expect(await artifactEvents(join(store, 'manifest.json'))).toEqual(expect.arrayContaining([{ kind: 'ARTIFACT_REFUSED', reason }]));
      await refusalsCounted('manifest', reason);
    });

    it.each([
      ['unsigned', 'UNSIGNED', (dir: string) => rmSync(join(dir, '.signatures.json'))],
      [
        'signed by another key',
        'SIGNATURE_INVALID',
        async (dir: string) => void (await publishManifest(dir, v1Manifest, costs, attackerKey)),
      ],
    ])('does not start a gateway with a manifest %s', async (_name, reason, attack) => {
      const dir = join(workDir, `start-${reason}`);
      cpSync(join(workDir, 'published-v1'), dir, { recursive: true });
      await attack(dir);
      const config = readGatewayConfig({
        GATEWAY_DATABASE_URL: database.urls.gateway,
        GATEWAY_REGION: 'us',
        GATEWAY_JWKS: app.jwksPath,
        GATEWAY_TOKEN_ISSUERS: 'coherence-dev',
        GATEWAY_REDIS_URL: 'redis://127.0.0.1:1',
        GATEWAY_MANIFEST_PATH: join(dir, 'manifest.json'),
        GATEWAY_INTERNAL_SIGNING_KEY: app.internalKeys.privateKeyPath,
      });
      await expect(createGateway(config, logger)).rejects.toThrow(`refused (${reason})`);
    });
  });
});

/**
 * The smaller holes closed with the migrations (ADR 0014), from outside the
 * processes. (The Twilio webhook's, a replayed message and a Host naming
 * another deployment, are in subgraphs/comms/src/inbound/registerTwilioInbound.int.ts.)
 */
describe('migrations and review holes: npm run retention --tenant-prefix', () => {
  const execFileAsync = promisify(execFile);

  /** `npm run retention -- …` as an operator runs it, on this file's database. */
  async function retentionCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await execFileAsync(process.execPath, ['--import', 'tsx', 'scripts/retention.ts', ...args], {
        cwd: repoRoot,
        env: { PATH: process.env['PATH'], RETENTION_DATABASE_URL: database.urls.retention, NEO4J_URL: services.neo4jBoltUrl },
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  /** A signal older than any retention keeps, for each of `tenants`. */
  async function insertOldSignals(tenants: string[]): Promise<void> {
    for (const tenantId of tenants) {
      await admin.query(
        `INSERT INTO signal_ledger (tenant_id, source, signal_id, ts, type, value, weight, provenance)
         VALUES ($1, 'api', 'old', now() - interval '400 days', 'health', 0.5, 1, '{}')`,
        [tenantId],
      );
    }
  }

  const tenantsWithSignals = async (tenants: string[]) =>
    (
      await admin.query<{ tenant_id: string }>('SELECT DISTINCT tenant_id FROM signal_ledger WHERE tenant_id = ANY($1) ORDER BY 1', [
        tenants,
      ])
    ).rows.map((row) => row.tenant_id);

  it('refuses a prefix with LIKE wildcards no tenant id can hold (exit 2), deleting nothing of any tenant', async () => {
    const tenants = [tenant('a'), tenant('b')];
    await insertOldSignals(tenants);
    const prefixes = ['%', `${database.namespace}-%`, ''];
    const refusals = await Promise.all(prefixes.map((prefix) => retentionCli('--tenant-prefix', prefix)));
    for (const [i, refused] of refusals.entries()) {
      expect(refused.code, prefixes[i]).toBe(2);
      expect(refused.stderr).toContain('INVALID_TENANT_PREFIX');
    }
    expect(await tenantsWithSignals(tenants)).toEqual(tenants);
  });

  it('takes `_` literally: a prefix ending in it reaches only the tenant that has it', async () => {
    const [underscore, other] = [tenant('c_1'), tenant('cX1')];
    await insertOldSignals([underscore, other]);
    const dryRun = await retentionCli('--dry-run', '--tenant-prefix', tenant('c_'));
    expect(dryRun.code).toBe(0);
    expect(dryRun.stdout).toContain(underscore);
    expect(dryRun.stdout).not.toContain(other);

    expect((await retentionCli('--tenant-prefix', tenant('c_'))).code).toBe(0);
    expect(await tenantsWithSignals([underscore, other])).toEqual([other]);
  });
});
