import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anyJsonValue,
  encodeJson,
  extremeWeight,
  invalidUtf8,
  latin1Visible,
  maybeMutatedSignal,
  signalWithInvalidUtf8,
  singlyMutatedSignal,
  validSignal,
} from './arbitraries';
import { assertProperty } from './assertProperty';
import { fuzzParameters, fuzzTimeoutMs } from './fuzzConfig';
import { createOutcomeTally, createStallGuard, excerpt, itKeepsTheRunInvariants, startFuzzHarness, type FuzzHarness } from './fuzzHarness';

/**
 * `POST /v1/signals` with a valid token and whatever body a careless
 * producer could send: arbitrary JSON, signals with awkward strings in every
 * field, edge numbers, wrong types, unknown fields, bytes that are not UTF-8.
 * Every answer is a 202 or a 4xx with a JSON error; a refusal stores
 * nothing; a 202 stores exactly `accepted` rows, which the relay projects.
 */
const parameters = fuzzParameters({ name: 'ingest-http', defaultRuns: 400, defaultSeed: 12_001 });

let harness: FuzzHarness;
let fuzzTenant: string;
let token: Record<string, string>;
let ledgerAtStart: number;
let acceptedTotal = 0;
const guard = createStallGuard();
const tally = createOutcomeTally('ingest-http');

beforeAll(async () => {
  harness = await startFuzzHarness();
  fuzzTenant = harness.tenant('fuzz');
  token = await harness.app.writeHeaders(fuzzTenant);
  ledgerAtStart = (await harness.counts()).ledger;
});

afterAll(async () => {
  tally.print();
  await harness?.stop();
});

/** A body as the case holds it (printed readably on failure); bytes only when sent. */
type Body = { json: unknown } | { bytes: Uint8Array } | { json: unknown; insert: Uint8Array; at: number };

interface IngestCase {
  body: Body;
  contentType: string;
  idempotencyKey: string | null;
}

function bytesOf(body: Body): Uint8Array {
  if ('bytes' in body) return body.bytes;
  const text = encodeJson(body.json);
  if (!('insert' in body)) return text;
  // Bytes that are not UTF-8 anywhere in an otherwise valid body, also between tokens.
  const cut = body.at % (text.length + 1);
  return Buffer.concat([text.subarray(0, cut), body.insert, text.subarray(cut)]);
}

function ingestCase(): fc.Arbitrary<IngestCase> {
  const other = harness.tenant('other');
  const element = fc.oneof(
    { arbitrary: maybeMutatedSignal(fuzzTenant, other), weight: 8 },
    { arbitrary: signalWithInvalidUtf8(fuzzTenant), weight: 1 },
    { arbitrary: anyJsonValue, weight: 1 },
  );
  const body: fc.Arbitrary<Body> = fc.oneof(
    { arbitrary: fc.array(element, { minLength: 1, maxLength: 5 }).map((signals) => ({ json: { signals } })), weight: 8 },
    {
      // Valid but for one change: what gets past validation, so what the stores and the relay must take.
      arbitrary: fc
        .tuple(fc.array(validSignal(fuzzTenant), { maxLength: 2 }), singlyMutatedSignal(fuzzTenant, other))
        .map(([valid, changed]) => ({ json: { signals: [...valid, changed] } })),
      weight: 6,
    },
    {
      // One extreme weight on every signal of a valid batch: two of 1e308 overflow any sum of weights.
      arbitrary: fc
        .tuple(fc.array(validSignal(fuzzTenant), { minLength: 1, maxLength: 3 }), extremeWeight)
        .map(([signals, weight]) => ({ json: { signals: signals.map((signal) => ({ ...signal, weight })) } })),
      weight: 1,
    },
    {
      // The batch around the signals: extra fields, wrong types, empty, over the size limit.
      arbitrary: fc
        .oneof(
          fc
            .tuple(fc.array(element, { maxLength: 2 }), fc.string(), anyJsonValue)
            .map(([signals, key, value]) => ({ signals, [key]: value })),
          anyJsonValue.map((signals) => ({ signals })),
          fc
            .constantFrom(1_000, 1_001)
            .chain((n) => fc.array(validSignal(fuzzTenant), { minLength: n, maxLength: n }).map((signals) => ({ signals }))),
        )
        .map((json) => ({ json })),
      weight: 2,
    },
    { arbitrary: anyJsonValue.map((json) => ({ json })), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }).map((bytes) => ({ bytes })), weight: 1 },
    {
      arbitrary: fc
        .tuple(fc.array(validSignal(fuzzTenant), { minLength: 1, maxLength: 2 }), invalidUtf8, fc.nat())
        .map(([signals, insert, at]) => ({ json: { signals }, insert, at })),
      weight: 1,
    },
  );
  return fc.record({
    body,
    contentType: fc.oneof(
      { arbitrary: fc.constant('application/json'), weight: 12 },
      { arbitrary: fc.constantFrom('application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json; charset=latin1'), weight: 1 },
    ),
    idempotencyKey: fc.oneof(
      { arbitrary: fc.constant(null), weight: 6 },
      // A small pool, so replays (same body) and mismatches (another body) happen.
      { arbitrary: fc.constantFrom('fuzz-key-1', 'fuzz-key-2', 'fuzz-key-3'), weight: 2 },
      {
        arbitrary: fc.string({ unit: latin1Visible, maxLength: 300 }),
        weight: 1,
      },
    ),
  });
}

async function checkCase({ body, contentType, idempotencyKey }: IngestCase): Promise<void> {
  const before = await harness.counts();
  const headers: Record<string, string> = { ...token, 'content-type': contentType };
  if (idempotencyKey !== null) headers['idempotency-key'] = idempotencyKey;
  const response = await harness.postIngest(bytesOf(body), headers);
  const after = await harness.counts();
  const what = `${response.status} ${excerpt(response.text)}`;
  const error = (response.json as { error?: { code?: unknown; issues?: { rule?: unknown }[] } } | undefined)?.error;
  tally.add(
    response.status === 202
      ? `202 ${response.headers['idempotent-replayed'] === 'true' ? 'replayed' : ((response.json as { accepted?: number } | undefined)?.accepted ?? 0) > 0 ? 'stored' : 'deduped'}`
      : `${response.status} ${String(error?.code)}${error?.issues?.[0] ? ` ${String(error.issues[0].rule)}` : ''}`,
  );

  expect(response.status, `no 5xx: ${what}`).toBeLessThan(500);
  if (response.status === 202) {
    const result = response.json as { accepted: unknown; deduped: unknown };
    expect(result, `a 202 says what it stored: ${what}`).toEqual({ accepted: expect.any(Number), deduped: expect.any(Number) });
    const accepted = result.accepted as number;
    expect(Number.isInteger(accepted) && accepted >= 0, `accepted is a count: ${what}`).toBe(true);
    const replayed = response.headers['idempotent-replayed'] === 'true';
    // A replay answers the first response byte for byte and stores nothing.
    const stored = replayed ? 0 : accepted;
    expect(after.ledger - before.ledger, `ledger rows added = accepted (${replayed ? 'a replay' : 'first use'}): ${what}`).toBe(stored);
    acceptedTotal += stored;
    if (stored > 0) await guard.check('the relay did not project an accepted batch', () => harness.projectionProblem());
  } else {
    expect(response.status, `a refusal is a 4xx: ${what}`).toBeGreaterThanOrEqual(400);
    expect(error?.code, `a refusal is a JSON error with a code: ${what}`).toEqual(expect.any(String));
    expect(after, `a refusal stores nothing: ${what}`).toEqual(before);
  }
}

describe('fuzz: ingest HTTP body', () => {
  it(
    'answers every body with a 202 or a 4xx, and stores exactly what it accepted',
    async () => {
      await assertProperty('ingest-http', fc.asyncProperty(ingestCase(), checkCase), parameters);
    },
    fuzzTimeoutMs(parameters, 300),
  );

  itKeepsTheRunInvariants(() => ({ harness, tenant: fuzzTenant, ledgerAtStart, acceptedTotal }));
});
