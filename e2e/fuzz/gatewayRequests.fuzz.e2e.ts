import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anyJsonValue, anyString, edgeNumber, encodeJson, latin1Visible, rawNumberLiteral, RawJson } from './arbitraries';
import { assertProperty } from './assertProperty';
import { fuzzParameters, fuzzTimeoutMs } from './fuzzConfig';
import { createOutcomeTally, excerpt, startFuzzHarness, type FuzzHarness, type StoredCounts } from './fuzzHarness';

/**
 * `/graphql` on the gateway with every persisted operation and whatever a
 * client could put around it: variables nested thousands deep, huge
 * strings, other tenants' ids; `persistedQuery` with odd versions and
 * hashes; pathological and oversized headers; GET as well as POST. Every
 * answer is a 200 or a 4xx, a refusal is a JSON GraphQL error with a code,
 * the gateway stores nothing of the pipeline's, and a read:self token never
 * receives another tenant's data.
 */
const parameters = fuzzParameters({ name: 'gateway', defaultRuns: 500, defaultSeed: 12_003 });

let harness: FuzzHarness;
const tally = createOutcomeTally('gateway');
const tenants = { self: '', other: '', eu: '', unregistered: '' };
const tokens: Record<'operator' | 'readSelf' | 'writeOnly' | 'euResident', string> = {
  operator: '',
  readSelf: '',
  writeOnly: '',
  euResident: '',
};

beforeAll(async () => {
  harness = await startFuzzHarness();
  tenants.self = harness.tenant('self');
  tenants.other = harness.tenant('other');
  tenants.eu = harness.tenant('eu');
  tenants.unregistered = harness.tenant('unregistered');
  await harness.app.registerTenant(tenants.self);
  await harness.app.registerTenant(tenants.other);
  await harness.app.registerTenant(tenants.eu, 'eu');
  const mint = harness.app.mintToken;
  tokens.operator = harness.operatorToken;
  tokens.readSelf = await mint({ tenant: tenants.self, scopes: ['coherence:read:self'] });
  tokens.writeOnly = await mint({ tenant: tenants.self, scopes: ['coherence:write:self'] });
  tokens.euResident = await mint({ tenant: tenants.eu, scopes: ['coherence:read:self'], residency: ['eu'] });
  // Both readable tenants have a score, so a leak across tenants would show in the data.
  for (const tenantId of [tenants.self, tenants.other]) {
    const response = await harness.postIngest(
      JSON.stringify({
        signals: [
          { tenantId, source: 'seed', signalId: 's-1', ts: new Date(Date.now() - 60_000).toISOString(), type: 'errors', value: 0.5 },
        ],
      }),
      await harness.app.writeHeaders(tenantId),
    );
    expect(response.status).toBe(202);
  }
  expect(await harness.projectionProblem()).toBeNull();
});

afterAll(async () => {
  tally.print();
  await harness?.stop();
});

const operationIds = manifest.operations.map((op) => op.id);

/** `[[[…"x"…]]]` or `{"a":{"a":…}}` `depth` levels deep, as JSON text (JSON.stringify would be fine too, but text is cheaper). */
const deeplyNested = fc
  .tuple(fc.constantFrom(10, 100, 1_000, 5_000, 10_000), fc.boolean(), fc.constantFrom('"x"', '1', 'null'))
  .map(
    ([depth, arrays, leaf]) =>
      new RawJson(arrays ? '['.repeat(depth) + leaf + ']'.repeat(depth) : '{"a":'.repeat(depth) + leaf + '}'.repeat(depth)),
  );

function variableValue(): fc.Arbitrary<unknown> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(tenants.self, tenants.self, tenants.other, tenants.eu, tenants.unregistered), weight: 14 },
    { arbitrary: deeplyNested, weight: 2 },
    { arbitrary: fc.constantFrom(1_000, 30_000, 60_000, 70_000).map((n) => 'x'.repeat(n)), weight: 1 },
    { arbitrary: fc.array(fc.constantFrom(tenants.self, tenants.other), { minLength: 1, maxLength: 3 }), weight: 1 },
    { arbitrary: anyString, weight: 2 },
    { arbitrary: edgeNumber, weight: 1 },
    { arbitrary: rawNumberLiteral, weight: 1 },
    { arbitrary: anyJsonValue, weight: 1 },
  );
}

/** Variables by the names the manifest's operations use, plus stray ones. */
function variables(): fc.Arbitrary<unknown> {
  const names = ['tenantId', 'first', 'after', 'since', 'until', 'status', 'type', 'from', 'to', 'id', 'reason', 'filter'];
  return fc.oneof(
    {
      arbitrary: fc
        .tuple(variableValue(), fc.dictionary(fc.constantFrom(...names), variableValue(), { maxKeys: 3 }))
        .map(([tenantId, others]) => ({ tenantId, ...others })),
      weight: 8,
    },
    {
      arbitrary: fc.record({ tenantId: fc.constantFrom(tenants.self, tenants.other), first: fc.oneof(edgeNumber, rawNumberLiteral) }),
      weight: 2,
    },
    { arbitrary: fc.dictionary(anyString, variableValue(), { maxKeys: 3 }), weight: 1 },
    { arbitrary: fc.oneof(anyJsonValue, deeplyNested), weight: 1 },
  );
}

/** Present in about one case of twelve. */
const rarely = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 11 }, { arbitrary, weight: 1 });

/** Each key mostly there, sometimes absent (a missing version or hash decides the answer on its own). */
const persistedQuery = fc
  .record({
    version: fc.oneof(
      { arbitrary: fc.constant(1), weight: 12 },
      { arbitrary: fc.constantFrom(0, 2, -1, 1.5, '1', null, true, 1e308, undefined), weight: 2 },
      { arbitrary: fc.oneof(edgeNumber, rawNumberLiteral, anyJsonValue), weight: 1 },
    ),
    sha256Hash: fc.oneof(
      { arbitrary: fc.constantFrom(...operationIds), weight: 12 },
      {
        arbitrary: fc
          .tuple(fc.constantFrom(...operationIds), fc.constantFrom('upper', 'sha256:', 'space', 'short', 'long'))
          .map(
            ([id, how]) =>
              ({ upper: id.toUpperCase(), 'sha256:': `sha256:${id}`, space: ` ${id}`, short: id.slice(0, 63), long: `${id}0` })[how],
          ),
        weight: 2,
      },
      { arbitrary: fc.oneof(anyString, anyJsonValue, fc.constant('f'.repeat(64)), fc.constant(undefined)), weight: 1 },
    ),
  })
  .map((query) => Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined)));

/** Built once the tenants exist: the variables name them. */
const requestBody = () =>
  fc.oneof(
    {
      arbitrary: fc
        .record({
          extensions: fc.oneof({ arbitrary: fc.record({ persistedQuery }), weight: 20 }, { arbitrary: anyJsonValue, weight: 1 }),
          variables: variables(),
          // Rarer: each of these decides the answer on its own (free text is always refused).
          operationName: rarely(fc.oneof(fc.constantFrom(...manifest.operations.map((op) => op.name)), anyString)),
          documentId: rarely(fc.oneof(fc.constantFrom(...operationIds.map((id) => `sha256:${id}`)), anyString)),
          query: rarely(
            fc.constantFrom('{ __typename }', 'query Q { __schema { types { name } } }', '{ tenantCoherence(tenantId: "x") { score } }'),
          ),
        })
        .map((body) => Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined))),
      weight: 20,
    },
    { arbitrary: fc.array(fc.record({ extensions: fc.record({ persistedQuery }) }), { minLength: 1, maxLength: 2 }), weight: 1 },
    { arbitrary: anyJsonValue, weight: 1 },
  );

/** Header values Node's HTTP client can send (tab, visible ASCII, space and Latin-1 above DEL); long ones around Node's 16 KiB header limit. */
const headerValue = fc.oneof(
  { arbitrary: fc.string({ unit: latin1Visible, maxLength: 80 }), weight: 12 },
  { arbitrary: fc.constantFrom(1_000, 8_000, 16_000, 17_000, 60_000, 70_000).map((n) => 'a'.repeat(n)), weight: 1 },
);

const authorization = fc.oneof(
  {
    arbitrary: fc
      .constantFrom('operator', 'operator', 'readSelf', 'readSelf', 'writeOnly', 'euResident')
      .map((name) => `Bearer ${tokens[name]}`),
    weight: 24,
  },
  {
    arbitrary: fc.constantFrom(
      'Bearer',
      'Bearer ',
      'bearer x.y.z',
      'Basic dXNlcjpwYXNz',
      'Bearer a.b.c',
      'Bearer ..',
      'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    ),
    weight: 1,
  },
  {
    arbitrary: fc.constantFrom('operator', 'readSelf').chain((name) => headerValue.map((junk) => `Bearer ${tokens[name]}${junk}`)),
    weight: 1,
  },
  { arbitrary: headerValue.map((value) => `Bearer ${value}`), weight: 1 },
  { arbitrary: headerValue, weight: 1 },
);

const extraHeaders = fc.dictionary(
  fc.constantFrom(
    'traceparent',
    'tracestate',
    'x-request-id',
    'x-coherence-subject',
    'x-coherence-internal-token',
    'user-agent',
    'accept',
    'cookie',
    'x-forwarded-for',
    'x-fuzz',
  ),
  headerValue,
  { maxKeys: 2 },
);

interface GatewayCase {
  method: 'POST' | 'GET';
  body: unknown;
  authorization: string | null;
  headers: Record<string, string>;
  contentType: string;
}

const gatewayCase: () => fc.Arbitrary<GatewayCase> = () =>
  fc.record({
    method: fc.oneof({ arbitrary: fc.constant('POST' as const), weight: 5 }, { arbitrary: fc.constant('GET' as const), weight: 1 }),
    body: requestBody(),
    authorization: fc.oneof({ arbitrary: authorization, weight: 12 }, { arbitrary: fc.constant(null), weight: 1 }),
    headers: extraHeaders,
    contentType: fc.oneof(
      { arbitrary: fc.constant('application/json'), weight: 24 },
      { arbitrary: fc.constantFrom('application/graphql-response+json', 'text/plain', 'application/json; charset=utf-16'), weight: 1 },
    ),
  });

/** Every value of a `tenantId` field anywhere in `data`. */
function tenantIdsIn(value: unknown, found: string[] = []): string[] {
  const stack = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (Array.isArray(item)) stack.push(...item);
    else if (item !== null && typeof item === 'object') {
      for (const [key, inner] of Object.entries(item)) {
        if (key === 'tenantId' && typeof inner === 'string') found.push(inner);
        else stack.push(inner);
      }
    }
  }
  return found;
}

async function send(testCase: GatewayCase) {
  const headers: Record<string, string> = { ...testCase.headers };
  if (testCase.authorization !== null) headers['authorization'] = testCase.authorization;
  if (testCase.method === 'POST') {
    headers['content-type'] = testCase.contentType;
    return harness.postGateway(encodeJson(testCase.body), headers);
  }
  // GET: extensions and variables as JSON in the query string, as GraphQL over HTTP has them.
  const body = (testCase.body ?? {}) as Record<string, unknown>;
  const params: Record<string, string> = {};
  for (const key of ['extensions', 'variables', 'operationName', 'documentId', 'query']) {
    if (typeof body === 'object' && key in body) {
      const value = body[key];
      params[key] =
        typeof value === 'string' && (key === 'operationName' || key === 'documentId' || key === 'query')
          ? value
          : Buffer.from(encodeJson(value)).toString('utf8');
    }
  }
  return harness.getGateway(params, headers);
}

/** The `version` a request's `persistedQuery` names next to a hash, as the server parses it; undefined when it names none. */
function persistedQueryVersion(body: unknown): unknown {
  const persisted = (body as { extensions?: { persistedQuery?: unknown } } | null)?.extensions?.persistedQuery;
  if (persisted === null || typeof persisted !== 'object' || !('version' in persisted) || !('sha256Hash' in persisted)) return undefined;
  if (typeof persisted.sha256Hash !== 'string') return undefined;
  return persisted.version instanceof RawJson ? JSON.parse(persisted.version.text) : persisted.version;
}

let countsBefore: StoredCounts;

async function checkCase(testCase: GatewayCase): Promise<void> {
  countsBefore ??= await harness.counts();
  const response = await send(testCase);
  const what = `${response.status} ${excerpt(response.text)}`;
  const body = response.json as { data?: unknown; errors?: { extensions?: { code?: unknown } }[] } | undefined;
  tally.add(`${response.status} ${String(body?.errors?.[0]?.extensions?.code ?? (body?.data ? 'data' : '-'))}`);

  expect(response.status, `no 5xx: ${what}`).toBeLessThan(500);
  expect(body, `the answer is JSON: ${what}`).toEqual(expect.any(Object));
  if (response.status >= 400) {
    expect(body?.errors?.[0]?.extensions?.code, `a refusal is a GraphQL error with extensions.code: ${what}`).toEqual(expect.any(String));
  }
  const version = persistedQueryVersion(testCase.body);
  if (version !== undefined && version !== 1) {
    expect(response.status, `only persistedQuery.version 1 is served (version ${JSON.stringify(version)}): ${what}`).toBeGreaterThanOrEqual(
      400,
    );
  }
  if (testCase.authorization === `Bearer ${tokens.readSelf}` && response.status === 200 && body?.data) {
    const foreign = tenantIdsIn(body.data).filter((tenantId) => tenantId !== tenants.self);
    expect(foreign, `a read:self token receives only its own tenant's data: ${what}`).toEqual([]);
  }
  expect(await harness.counts(), `the gateway stores nothing of the pipeline's: ${what}`).toEqual(countsBefore);
}

describe('fuzz: gateway variables, extensions and headers', () => {
  it(
    'answers every request with a 200 or a JSON 4xx, stores nothing and keeps tenants apart',
    async () => {
      await assertProperty('gateway', fc.asyncProperty(gatewayCase(), checkCase), parameters);
    },
    fuzzTimeoutMs(parameters, 200),
  );

  it('projects a canary pushed after the run (HTTP and Kafka) and serves it through the gateway within 5 s', async () => {
    expect(await harness.canaryProblems()).toEqual([]);
  });
});
