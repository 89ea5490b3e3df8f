import { DEV_ISSUER, ensureDevKeys, TOKEN_AUDIENCE } from '@coherence/auth';
import fc from 'fast-check';
import { createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anyJsonValue, anyString, edgeNumber, encodeJson, invalidUtf8, rawNumberLiteral } from './arbitraries';
import { assertProperty } from './assertProperty';
import { fuzzParameters, fuzzTimeoutMs } from './fuzzConfig';
import { createOutcomeTally, excerpt, startFuzzHarness, tenantCoherenceId, type FuzzHarness, type HttpResult } from './fuzzHarness';

/**
 * Tokens correctly signed with the dev key whose claims are anything a buggy
 * or hostile issuer could write: odd `sub`, `tenant`, `scope`, `residency`,
 * `exp`/`nbf`/`iat` of every type and size, extra claims, payloads that are
 * not objects or not UTF-8, odd headers. Sent to ingest (a valid signal of
 * the claimed tenant) and to the gateway (that tenant's score). Every answer
 * is a success or a JSON 4xx; a 401 leaves an AUTH_DENY row; a refusal
 * stores nothing; and nothing gets through without the scope it needs and
 * an unexpired `exp`.
 */
const parameters = fuzzParameters({ name: 'claims', defaultRuns: 300, defaultSeed: 12_004 });

/** jose's default leeway as the services configure it (createTokenVerifier). */
const CLOCK_TOLERANCE_SECONDS = 30;

let harness: FuzzHarness;
let signingKey: KeyObject;
let kid: string;
let claimsTenant: string;
const tally = createOutcomeTally('claims');

beforeAll(async () => {
  harness = await startFuzzHarness();
  claimsTenant = harness.tenant('claims');
  await harness.app.registerTenant(claimsTenant);
  // The key pair the application trusts; ensureDevKeys only names the files it made.
  const { privateKeyPath } = await ensureDevKeys(dirname(harness.app.jwksPath));
  const jwk = JSON.parse(readFileSync(privateKeyPath, 'utf8')) as { kid: string };
  kid = jwk.kid;
  signingKey = createPrivateKey({ key: jwk, format: 'jwk' });
});

afterAll(async () => {
  tally.print();
  await harness?.stop();
});

const base64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');

/** An ES256 JWS over exactly these header and payload bytes, signed with the trusted dev key. */
function signToken(header: unknown, payload: Uint8Array): string {
  const signingInput = `${base64url(encodeJson(header))}.${base64url(payload)}`;
  const signature = sign('sha256', Buffer.from(signingInput), { key: signingKey, dsaEncoding: 'ieee-p1363' });
  return `${signingInput}.${base64url(signature)}`;
}

const now = () => Math.floor(Date.now() / 1_000);

/** Claim values for a time claim: around now, far away, not integers, not numbers. */
const timeClaim = fc.oneof(
  { arbitrary: fc.integer({ min: -7_200, max: 7_200 }).map((offset) => now() + offset), weight: 4 },
  { arbitrary: fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, 1e308, 253_402_300_800), weight: 1 },
  { arbitrary: fc.oneof(edgeNumber, rawNumberLiteral, anyJsonValue), weight: 1 },
);

const claimNames = ['iss', 'aud', 'sub', 'tenant', 'scope', 'residency', 'client_id', 'exp', 'nbf', 'iat', 'jti'] as const;

function claimValue(name: (typeof claimNames)[number]): fc.Arbitrary<unknown> {
  switch (name) {
    case 'exp':
    case 'nbf':
    case 'iat':
      return timeClaim;
    case 'scope':
      return fc.oneof(
        fc
          .subarray(['coherence:read', 'coherence:read:self', 'coherence:write:self', 'comms:operate', 'admin', ''])
          .chain((scopes) => fc.constantFrom(' ', '  ', '\t', ',').map((separator) => scopes.join(separator))),
        fc.array(fc.constantFrom('coherence:read:self', 'coherence:write:self')),
        anyString,
        anyJsonValue,
      );
    case 'residency':
      return fc.oneof(fc.constantFrom(['us'], ['eu'], [], 'us', 'us eu', [''], ['us', 'us'], [1]), anyString, anyJsonValue);
    case 'tenant':
      return fc.oneof(
        fc.constantFrom('ac me', '', 'x'.repeat(129), 'x'.repeat(128), `${claimsTenant}\u0000`, `${claimsTenant} `),
        anyString,
        anyJsonValue,
      );
    case 'iss':
      return fc.oneof(fc.constantFrom(DEV_ISSUER, `${DEV_ISSUER} `, '', 'https://evil.example'), anyString, anyJsonValue);
    case 'aud':
      return fc.oneof(fc.constantFrom([TOKEN_AUDIENCE], [TOKEN_AUDIENCE, 'other'], 'other', ''), anyString, anyJsonValue);
    default:
      return fc.oneof(fc.constantFrom('x'.repeat(300), 'x'.repeat(10_000), ''), anyString, anyJsonValue);
  }
}

/** Claims that start valid for the claims tenant and are then changed, claim by claim. */
const claims = () =>
  fc
    .tuple(
      fc.array(
        fc.oneof(
          { arbitrary: fc.constantFrom(...claimNames).chain((name) => claimValue(name).map((value) => ({ name, value }))), weight: 6 },
          { arbitrary: fc.constantFrom(...claimNames).map((name) => ({ name, value: undefined })), weight: 1 },
        ),
        { maxLength: 4 },
      ),
      fc.dictionary(anyString, anyJsonValue, { maxKeys: 3 }),
      fc.constantFrom('coherence:write:self coherence:read:self', 'coherence:read', 'coherence:write:self'),
    )
    .map(([changes, extra, scope]) => {
      const payload: Record<string, unknown> = {
        ...extra,
        iss: DEV_ISSUER,
        aud: TOKEN_AUDIENCE,
        sub: 'fuzz-user',
        tenant: claimsTenant,
        scope,
        residency: ['us'],
        client_id: 'fuzz',
        iat: now(),
        exp: now() + 3_600,
      };
      for (const { name, value } of changes) {
        if (value === undefined) delete payload[name];
        else payload[name] = value;
      }
      return payload;
    });

interface ClaimsCase {
  header: unknown;
  /** The payload as bytes: JSON of claims, or something that is not. */
  payload: { claims: Record<string, unknown> } | { bytes: Uint8Array };
}

const claimsCase = (): fc.Arbitrary<ClaimsCase> =>
  fc.record({
    header: fc.oneof(
      { arbitrary: fc.constant({ alg: 'ES256', kid, typ: 'JWT' }), weight: 12 },
      {
        arbitrary: fc.constantFrom(
          { alg: 'ES256', kid },
          { alg: 'ES256', typ: 'JWT' },
          { alg: 'ES256', kid, typ: 'at+jwt' },
          { alg: 'ES256', kid: `${kid}x`, typ: 'JWT' },
          { alg: 'ES256', kid, crit: ['exp'] },
          { alg: 'ES256', kid, b64: false, crit: ['b64'] },
          { alg: 'none', kid },
          { alg: 'HS256', kid },
          { alg: 'ES384', kid },
        ),
        weight: 1,
      },
      { arbitrary: fc.record({ alg: fc.constant('ES256'), kid: fc.oneof(anyString, anyJsonValue) }), weight: 1 },
    ),
    payload: fc.oneof(
      { arbitrary: claims().map((value) => ({ claims: value })), weight: 12 },
      { arbitrary: anyJsonValue.map((value) => ({ bytes: encodeJson(value) })), weight: 1 },
      {
        arbitrary: fc
          .tuple(claims(), invalidUtf8)
          .map(([value, bytes]) => ({ bytes: Buffer.concat([encodeJson(value).subarray(0, -1), bytes, Buffer.from('}')]) })),
        weight: 1,
      },
    ),
  });

const scopesOf = (claimed: Record<string, unknown>) => (typeof claimed['scope'] === 'string' ? claimed['scope'].split(' ') : []);
/** What every accepted token must have: an expiry that is a number and not past (with the verifiers' leeway). */
const unexpired = (claimed: Record<string, unknown>) =>
  typeof claimed['exp'] === 'number' && claimed['exp'] > now() - CLOCK_TOLERANCE_SECONDS - 5;

async function expectCommonContract(service: Service, response: HttpResult, what: string) {
  expect(response.status, `${service}: no 5xx: ${what}`).toBeLessThan(500);
  if (response.status >= 400) {
    const body = response.json as { error?: { code?: unknown }; errors?: { extensions?: { code?: unknown } }[] } | undefined;
    const code = service === 'ingest' ? body?.error?.code : body?.errors?.[0]?.extensions?.code;
    expect(code, `${service}: a refusal is a JSON error with a code: ${what}`).toEqual(expect.any(String));
  }
  if (response.status === 401 || (service === 'ingest' && ingestReason(response) === 'SCOPE_MISSING')) denials[service] += 1;
}

/** Ingest records a token without its scope as AUTH_DENY too (the gateway leaves that to the policy, as a decision). */
const ingestReason = (response: HttpResult) => (response.json as { error?: { reason?: unknown } } | undefined)?.error?.reason;

type Service = 'ingest' | 'gateway';

/** Refused tokens each service answered in this run; its AUTH_DENY rows must count as many (checked after the run). */
const denials: Record<Service, number> = { ingest: 0, gateway: 0 };

/**
 * AUTH_DENY events each service wrote. Both queue refusals and fold a flood
 * (past 20 alike a minute) into one row whose `details.count` says how many.
 */
async function deniesRecorded(): Promise<Record<Service, number>> {
  await Promise.all([harness.app.gateway.flushSecurityEvents(), harness.app.ingest.flushSecurityEvents()]);
  const { rows } = await harness.admin.query<{ service: Service; denials: number }>(
    `SELECT service, sum(coalesce((details->>'count')::int, 1))::int AS denials FROM security_events WHERE kind = 'AUTH_DENY' GROUP BY service`,
  );
  return { ingest: 0, gateway: 0, ...Object.fromEntries(rows.map((row) => [row.service, row.denials])) };
}

async function checkCase(testCase: ClaimsCase): Promise<void> {
  const claimed = 'claims' in testCase.payload ? testCase.payload.claims : {};
  const token = signToken(testCase.header, 'claims' in testCase.payload ? encodeJson(testCase.payload.claims) : testCase.payload.bytes);
  // The signal is of the claimed tenant when that could be a tenant id at all, so ingest judges the token, not the batch.
  const tenantId =
    typeof claimed['tenant'] === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(claimed['tenant']) ? claimed['tenant'] : claimsTenant;

  const ingestId = `fuzz-claims-${randomUUID()}`;
  const before = await harness.counts();
  const ingest = await harness.postIngest(
    JSON.stringify({
      signals: [
        { tenantId, source: 'claims', signalId: ingestId, ts: new Date(Date.now() - 60_000).toISOString(), type: 'auth', value: 0.5 },
      ],
    }),
    { authorization: `Bearer ${token}`, 'x-request-id': ingestId },
  );
  const after = await harness.counts();
  const ingestWhat = `ingest ${ingest.status} ${excerpt(ingest.text)}`;
  tally.add(`ingest ${ingest.status} ${String(ingestReason(ingest) ?? '')}`.trim());
  await expectCommonContract('ingest', ingest, ingestWhat);
  if (ingest.status === 202) {
    expect(scopesOf(claimed), `ingest accepts only coherence:write:self: ${ingestWhat}`).toContain('coherence:write:self');
    expect(unexpired(claimed), `ingest accepts only an unexpired token: ${ingestWhat}`).toBe(true);
    expect(after.ledger - before.ledger, `ledger rows added = accepted: ${ingestWhat}`).toBe(
      (ingest.json as { accepted: number }).accepted,
    );
  } else {
    expect(after, `a refusal stores nothing: ${ingestWhat}`).toEqual(before);
  }

  const gateway = await harness.postGateway(
    JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }, variables: { tenantId } }),
    { authorization: `Bearer ${token}` },
  );
  const gatewayWhat = `gateway ${gateway.status} ${excerpt(gateway.text)}`;
  const gatewayBody = gateway.json as
    { data?: { tenantCoherence?: unknown } | null; errors?: { extensions?: { reasonCode?: unknown } }[] } | undefined;
  tally.add(`gateway ${gateway.status} ${String(gatewayBody?.errors?.[0]?.extensions?.reasonCode ?? '')}`.trim());
  await expectCommonContract('gateway', gateway, gatewayWhat);
  if (gateway.status === 200 && gatewayBody?.data?.tenantCoherence) {
    const scopes = scopesOf(claimed);
    expect(
      scopes.includes('coherence:read') || scopes.includes('coherence:read:self'),
      `the gateway serves only a token with a read scope: ${gatewayWhat}`,
    ).toBe(true);
    expect(unexpired(claimed), `the gateway serves only an unexpired token: ${gatewayWhat}`).toBe(true);
  }
}

describe('fuzz: JWT claims signed with the dev key, at ingest and the gateway', () => {
  it(
    'answers every token with a success or a JSON 4xx, records refusals, and lets nothing through without scope and expiry',
    async () => {
      await assertProperty('claims', fc.asyncProperty(claimsCase(), checkCase), parameters);
      expect(await deniesRecorded(), 'every 401 is an AUTH_DENY row of its service, or counted in one').toEqual(denials);
    },
    fuzzTimeoutMs(parameters, 300),
  );

  it('projects a canary pushed after the run (HTTP and Kafka) and serves it through the gateway within 5 s', async () => {
    expect(await harness.canaryProblems()).toEqual([]);
  });
});
