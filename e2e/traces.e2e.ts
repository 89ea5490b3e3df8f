import { DEV_ISSUER, ensureDevInternalKeys, ensureDevKeys, mintDevToken, SCOPES, type DevKeyFiles } from '@coherence/auth';
import { createReceiver, type Receiver } from '@coherence/comms/testing';
import { createTestDatabase, freePort, type TestDatabase } from '@coherence/devservices';
import { startJaeger, type RunningJaeger } from '@coherence/devservices/jaeger';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from '@coherence/devservices/managedProcess';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createPgPool } from '@coherence/platform';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fetchJaegerTrace, type JaegerSpan, type JaegerTrace } from '../scripts/trace/jaegerQuery';
import { renderWaterfall } from '../scripts/trace/waterfall';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';

/**
 * One trace through every process, as they run in production (each its own
 * `main`, exporting OTLP to a real Jaeger): a signal pushed to ingest with a
 * known `traceparent` is followed through the outbox row, the relay (Neo4j,
 * read model), `CoherenceChanged` over Redis, the comms worker and the
 * command it sends to the tenant's webhook, to the webhook's receiver; a read
 * of the tenant's score through the gateway in the same trace reaches the
 * subgraphs. Jaeger's query API must then hold all of it, each span under
 * the right parent and carrying `tenant.id` (docs/adr/0020-traces.md).
 */
const repoRoot = resolve(import.meta.dirname, '..');
const logDir = mkdtempSync(join(tmpdir(), 'coherence-traces-'));
const tenantCoherenceId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;
let database: TestDatabase;
let jaeger: RunningJaeger;
let keys: DevKeyFiles;
let receiver: Receiver;
const running: ManagedProcess[] = [];
const ports = { gateway: 0, ingest: 0 };

async function startProcess(name: string, entry: string, env: Record<string, string>): Promise<void> {
  const adminPort = await freePort();
  const child = spawnManaged({
    name,
    command: process.execPath,
    args: ['--import', 'tsx', join(repoRoot, entry)],
    cwd: repoRoot,
    env: {
      ...process.env,
      LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: jaeger.otlpEndpoint,
      // Spans leave every 200 ms rather than every 5 s, so the test waits less.
      OTEL_BSP_SCHEDULE_DELAY: '200',
      [`${name.toUpperCase().replace('-', '_')}_ADMIN_PORT`]: `${adminPort}`,
      ...env,
    },
    logFile: join(logDir, `${name}.log`),
  });
  running.push(child);
  await waitUntilHealthy(name, child.logFile, async () => (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok, 60_000, child);
}

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  keys = await ensureDevKeys(join(logDir, 'keys'));
  const internalKeys = await ensureDevInternalKeys(join(logDir, 'keys'));
  // The first run builds Jaeger from source (a few minutes), while other test files run.
  jaeger = await startJaeger({
    ports: { otlpHttp: await freePort(), query: await freePort(), queryGrpc: await freePort() },
    logFile: join(logDir, 'jaeger', 'jaeger.log'),
  });
  const subgraph = { coherence: await freePort(), ingest: await freePort(), comms: await freePort() };
  ports.gateway = await freePort();
  ports.ingest = await freePort();
  const channel = { COHERENCE_CHANGED_CHANNEL: `${database.namespace}.coherence.changed` };
  const subgraphAuth = { SUBGRAPH_INTERNAL_JWKS: internalKeys.jwksPath };
  await startProcess('ingest', 'subgraphs/ingest/src/main.ts', {
    INGEST_PORT: `${ports.ingest}`,
    INGEST_SUBGRAPH_PORT: `${subgraph.ingest}`,
    INGEST_DATABASE_URL: database.urls.ingest,
    INGEST_REGION: 'us',
    INGEST_JWKS: keys.jwksPath,
    INGEST_TOKEN_ISSUERS: DEV_ISSUER,
    INGEST_REDIS_URL: services.redisUrl,
    ...subgraphAuth,
  });
  await startProcess('coherence', 'subgraphs/coherence/src/main.ts', {
    COHERENCE_PORT: `${subgraph.coherence}`,
    COHERENCE_DATABASE_URL: database.urls.coherence,
    NEO4J_URL: services.neo4jBoltUrl,
    ...subgraphAuth,
  });
  await startProcess('comms', 'subgraphs/comms/src/main.ts', {
    COMMS_PORT: `${subgraph.comms}`,
    COMMS_INBOUND_PORT: `${await freePort()}`,
    COMMS_DATABASE_URL: database.urls.comms,
    ...subgraphAuth,
  });
  receiver = await createReceiver(() => ({ status: 200 }));
  await startProcess('comms-worker', 'subgraphs/comms/src/worker/main.ts', {
    COMMS_DATABASE_URL: database.urls.comms,
    REDIS_URL: services.redisUrl,
    // The webhook receiver is on loopback, which deliveries may not reach otherwise.
    COMMS_SSRF_ALLOW: '127.0.0.1/32',
    ...channel,
  });
  await startProcess('relay', 'subgraphs/coherence/src/relay/main.ts', {
    RELAY_DATABASE_URL: database.urls.relay,
    NEO4J_URL: services.neo4jBoltUrl,
    REDIS_URL: services.redisUrl,
    ...channel,
  });
  await startProcess('gateway', 'gateway/src/main.ts', {
    GATEWAY_PORT: `${ports.gateway}`,
    GATEWAY_DATABASE_URL: database.urls.gateway,
    GATEWAY_REGION: 'us',
    GATEWAY_JWKS: keys.jwksPath,
    GATEWAY_TOKEN_ISSUERS: DEV_ISSUER,
    GATEWAY_INTERNAL_SIGNING_KEY: internalKeys.privateKeyPath,
    GATEWAY_REDIS_URL: services.redisUrl,
    GATEWAY_REDIS_KEY_PREFIX: `${database.namespace}:`,
    SUBGRAPH_COHERENCE_URL: `http://127.0.0.1:${subgraph.coherence}/graphql`,
    SUBGRAPH_INGEST_URL: `http://127.0.0.1:${subgraph.ingest}/graphql`,
    SUBGRAPH_COMMS_URL: `http://127.0.0.1:${subgraph.comms}/graphql`,
  });
}, 600_000);

afterAll(async () => {
  await Promise.all(running.map((child) => child.stop()));
  await jaeger?.stop();
  await receiver?.close();
  await database?.drop();
  rmSync(logDir, { recursive: true, force: true });
});

const spanId = () => randomBytes(8).toString('hex');

it('follows a signal from ingest through the relay and comms, and its read through the gateway, in one Jaeger trace', async () => {
  const tenantId = `${database.namespace}-traced`;
  const admin = createPgPool(database.adminUrl);
  await admin.query(`INSERT INTO tenants (tenant_id, residency) VALUES ($1, 'us')`, [tenantId]);
  // The tenant's first score (critical, below) is a status change its webhook hears about.
  await admin.query(`INSERT INTO comms_contacts (tenant_id, contact_id, channel, url) VALUES ($1, 'chat', 'webhook', $2)`, [
    tenantId,
    receiver.url('/chat'),
  ]);
  await admin.end();
  const traceId = randomBytes(16).toString('hex');
  // A client that traces: its own spans are the parents of the first span in each process it calls.
  const pushSpan = spanId();
  const readSpan = spanId();
  const traced = (parent: string) => ({ traceparent: `00-${traceId}-${parent}-01`, baggage: `tenant.id=${tenantId}` });

  const writeToken = await mintDevToken(keys.privateKeyPath, {
    sub: 'producer',
    tenant: tenantId,
    scopes: [SCOPES.writeSelf],
    residency: ['us'],
  });
  const pushed = await fetch(`http://127.0.0.1:${ports.ingest}/v1/signals`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${writeToken}`, ...traced(pushSpan) },
    body: JSON.stringify({
      signals: [{ tenantId, source: 'checkout', signalId: 's-1', ts: new Date().toISOString(), type: 'latency', value: 0.2, weight: 1 }],
    }),
  });
  expect(pushed.status).toBe(202);

  const readToken = await mintDevToken(keys.privateKeyPath, {
    sub: 'reader',
    tenant: tenantId,
    scopes: [SCOPES.readSelf],
    residency: ['us'],
  });
  const read = async () => {
    const response = await fetch(`http://127.0.0.1:${ports.gateway}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${readToken}`, ...traced(readSpan) },
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }, variables: { tenantId } }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('traceparent')).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    return (await response.json()) as { data: { tenantCoherence: { status: string } | null } };
  };
  // Read once the relay has scored the tenant, so that the read is not answered from an empty cache entry alone.
  await poll('the relay to score the tenant', async () => (await read()).data.tenantCoherence?.status !== undefined);

  const wanted = ['gateway', 'ingest', 'relay', 'coherence', 'comms', 'comms-worker'];
  const trace = await poll('Jaeger to hold spans of every process', async () => {
    const found = await fetchJaegerTrace(jaeger.uiUrl, traceId);
    if (found === undefined) return undefined;
    const services = new Set(Object.values(found.processes).map((p) => p.serviceName));
    return wanted.every((service) => services.has(service)) && hasSpan(found, 'comms run notify.webhook') ? found : undefined;
  });
  // The webhook's receiver got the trace too.
  const delivered = receiver.to('/chat');
  expect(delivered).toHaveLength(1);
  expect(delivered[0]!.headers['traceparent']).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

  const byId = new Map(trace.spans.map((span) => [span.spanID, span]));
  const serviceOf = (span: JaegerSpan) => trace.processes[span.processID]!.serviceName;
  const parentOf = (span: JaegerSpan) => span.references.find((ref) => ref.refType === 'CHILD_OF')?.spanID;
  const parentService = (span: JaegerSpan) => {
    const parent = byId.get(parentOf(span) ?? '');
    return parent === undefined ? undefined : serviceOf(parent);
  };
  const named = (name: string) => trace.spans.filter((span) => span.operationName === name);

  // The client's spans are the parents of ingest's and the gateway's request spans.
  expect(named('POST /v1/signals').map(parentOf)).toEqual([pushSpan]);
  const gatewayRequests = named('POST /graphql').filter((span) => serviceOf(span) === 'gateway');
  expect(gatewayRequests.length).toBeGreaterThan(0);
  expect(new Set(gatewayRequests.map(parentOf))).toEqual(new Set([readSpan]));
  // Ingest → (outbox row) → relay → (CoherenceChanged over Redis) → comms worker.
  for (const span of [...named('relay score tenant'), ...named('relay project signals')]) expect(parentService(span)).toBe('ingest');
  expect(named('relay score tenant').length).toBeGreaterThan(0);
  for (const span of named('comms handle CoherenceChanged')) {
    expect(serviceOf(span)).toBe('comms-worker');
    expect(byId.get(parentOf(span)!)?.operationName).toBe('relay score tenant');
  }
  // → (command on the bus) → its run, and the webhook POST inside it.
  for (const span of named('comms run notify.webhook')) {
    expect(byId.get(parentOf(span)!)?.operationName).toBe('comms handle CoherenceChanged');
    expect(trace.spans.some((child) => parentOf(child) === span.spanID && child.operationName === 'POST')).toBe(true);
  }
  // The relay's Neo4j queries and the gateway's own steps are spans too.
  expect(trace.spans.some((span) => serviceOf(span) === 'relay' && span.operationName.startsWith('neo4j '))).toBe(true);
  for (const step of ['gateway authentication', 'gateway persisted-operation', 'gateway policy', 'gateway rate-limit'])
    expect(named(step).length).toBeGreaterThan(0);
  // The checks in memory or in a cache run in the request's span (docs/adr/0020-traces.md).
  for (const step of [
    'gateway refusal-throttle',
    'gateway api-client',
    'gateway tenant',
    'gateway break-glass-audit',
    'gateway kill-switch',
  ])
    expect(named(step)).toEqual([]);
  // Every subgraph request span is a child of a gateway span (its HTTP call).
  const subgraphRequests = trace.spans.filter(
    (span) => ['coherence', 'comms'].includes(serviceOf(span)) && parentService(span) !== serviceOf(span),
  );
  expect(subgraphRequests.length).toBeGreaterThan(0);
  for (const span of subgraphRequests) expect(parentService(span)).toBe('gateway');
  // That call's own client span (the gateway runs without library instrumentations; subgraphFetcher traces it).
  for (const span of subgraphRequests) expect(byId.get(parentOf(span)!)?.operationName).toBe('POST');
  // tenant.id on every span of every process.
  const untagged = trace.spans.filter((span) => span.tags.find((tag) => tag.key === 'tenant.id')?.value !== tenantId);
  expect(untagged.map((span) => `${serviceOf(span)}: ${span.operationName}`)).toEqual([]);

  // `npm run trace -- <id>` shows it: a line per span, the relay's under ingest's push, indented deeper.
  const waterfall = renderWaterfall(trace).split('\n');
  expect(waterfall).toHaveLength(trace.spans.length + 2);
  const indent = (line: string) => line.slice(line.lastIndexOf('|') + 3).search(/\S/);
  const push = waterfall.find((line) => / ingest .*POST \/v1\/signals/.test(line))!;
  const scoring = waterfall.find((line) => / relay .*relay score tenant/.test(line))!;
  expect(indent(scoring)).toBeGreaterThan(indent(push));
  expect(waterfall.indexOf(scoring)).toBeGreaterThan(waterfall.indexOf(push));
});

it("keeps a refused request's span although its trace was not sampled, under the traceparent it was answered with; an answered one leaves nothing", async () => {
  const tenantId = `${database.namespace}-untraced`;
  const admin = createPgPool(database.adminUrl);
  await admin.query(`INSERT INTO tenants (tenant_id, residency) VALUES ($1, 'us')`, [tenantId]);
  await admin.end();
  const readToken = await mintDevToken(keys.privateKeyPath, {
    sub: 'reader',
    tenant: tenantId,
    scopes: [SCOPES.readSelf],
    residency: ['us'],
  });
  const read = (traceId: string, authorization: Record<string, string>) =>
    fetch(`http://127.0.0.1:${ports.gateway}/graphql`, {
      method: 'POST',
      // The caller's trace is not sampled (flags 00): the head sampler follows it.
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${spanId()}-00`, ...authorization },
      body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }, variables: { tenantId } }),
    });
  const answeredTrace = randomBytes(16).toString('hex');
  const answered = await read(answeredTrace, { authorization: `Bearer ${readToken}` });
  expect(answered.status).toBe(200);
  const refusedTrace = randomBytes(16).toString('hex');
  const refused = await read(refusedTrace, {});
  expect(refused.status).toBe(401);
  const answeredWith = refused.headers.get('traceparent');
  expect(answeredWith).toMatch(new RegExp(`^00-${refusedTrace}-[0-9a-f]{16}-00$`));

  const kept = await poll('Jaeger to hold the refused request', () => fetchJaegerTrace(jaeger.uiUrl, refusedTrace));
  expect(kept.spans).toHaveLength(1);
  const [span] = kept.spans;
  const tag = (key: string) => span!.tags.find((t) => t.key === key)?.value;
  expect(kept.processes[span!.processID]!.serviceName).toBe('gateway');
  expect(span!.operationName).toBe('POST /graphql');
  expect(span!.spanID).toBe(answeredWith!.split('-')[2]);
  expect([
    tag('coherence.tail_kept'),
    tag('http.response.status_code'),
    tag('coherence.refusal.code'),
    tag('coherence.refusal.step'),
  ]).toEqual(['refused', 401, 'UNAUTHENTICATED', 'authentication']);
  // The answered request was exported (or not) before the refused one: its dropped trace left nothing.
  expect(await fetchJaegerTrace(jaeger.uiUrl, answeredTrace)).toBeUndefined();
});

function hasSpan(trace: JaegerTrace, name: string): boolean {
  return trace.spans.some((span) => span.operationName === name);
}

/** `check`'s first truthy answer, polled until a deadline (the machine may be loaded). */
async function poll<T>(what: string, check: () => Promise<T | undefined | false>, deadlineMs = 60_000): Promise<T> {
  const giveUpAt = Date.now() + deadlineMs;
  for (;;) {
    const answer = await check();
    if (answer) return answer;
    if (Date.now() > giveUpAt) throw new Error(`gave up waiting for ${what} after ${deadlineMs / 1_000} s (logs: ${logDir})`);
    await sleep(500);
  }
}
