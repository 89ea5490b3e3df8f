import { createPgPool, type PgPool } from '@coherence/platform';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * The gateway's limiter over the real stack. A tenant of weight 1 may make
 * RATE requests per second (TenantCoherence costs 1) with a burst of BURST
 * (2 s of its rate); weight w multiplies both. A caller reading another
 * tenant (an operator) has its own share besides: half the rate of weight 1.
 * Over either: 429, `Retry-After`, RATE_LIMITED — and never a 5xx, however
 * hard anyone pushes.
 */
const RATE = 5;
const BURST = 2 * RATE;
const CALLER_RATE = RATE / 2;
const CALLER_BURST = 2 * CALLER_RATE;
const tenantCoherenceId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;
let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  app = await startApplication(inject('services'), database, {
    gatewayEnv: {
      GATEWAY_RATE_PER_SECOND: String(RATE),
      GATEWAY_RATE_BURST_SECONDS: '2',
      // Shares shrinking under saturation is tested in createGatewayLimiter.int.ts; here a busy test machine must not trigger it.
      GATEWAY_SATURATION_IN_FLIGHT: '100000',
      GATEWAY_SATURATION_LOOP_DELAY_MS: '100000',
    },
  });
  admin = createPgPool(database.adminUrl);
});

afterAll(async () => {
  await app?.stop();
  await admin?.end();
  await database?.drop();
});

interface Answer {
  status: number;
  retryAfter: string | null;
  code: string | undefined;
  retryAfterSeconds: unknown;
}

async function read(tenantId: string, headers: Record<string, string>): Promise<Answer> {
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }, variables: { tenantId } }),
  });
  const body = (await response.json()) as { errors?: { extensions: { code: string; retryAfterSeconds?: number } }[] };
  return {
    status: response.status,
    retryAfter: response.headers.get('retry-after'),
    code: body.errors?.[0]?.extensions.code,
    retryAfterSeconds: body.errors?.[0]?.extensions.retryAfterSeconds,
  };
}

/** At most the burst plus what refills while the requests are answered. */
const ceiling = (burst: number, rate: number, startedAt: number) => burst + Math.ceil((rate * (Date.now() - startedAt)) / 1_000) + 1;

/** Every answer is a 200 or a well-formed 429; returns how many were 200. */
function expectOnlyOkOrLimited(answers: Answer[]): number {
  for (const answer of answers) {
    if (answer.status === 200) continue;
    expect(answer.status).toBe(429);
    expect(answer.code).toBe('RATE_LIMITED');
    expect(answer.retryAfter).toMatch(/^[1-9]\d*$/);
    expect(answer.retryAfterSeconds).toBe(Number(answer.retryAfter));
  }
  return answers.filter((answer) => answer.status === 200).length;
}

describe('per-tenant limiter', () => {
  it('answers a burst of 5× the capacity at once with 200s up to the capacity and 429s after, no 5xx', async () => {
    const tenantId = `${database.namespace}-burst`;
    const headers = await app.readHeaders(tenantId);
    const startedAt = Date.now();
    const answers = await Promise.all(Array.from({ length: 5 * BURST }, () => read(tenantId, headers)));
    const ok = expectOnlyOkOrLimited(answers);
    expect(ok).toBeGreaterThanOrEqual(BURST);
    expect(ok).toBeLessThanOrEqual(ceiling(BURST, RATE, startedAt));
    expect(ok).toBeLessThan(answers.length);
  });

  it('holds a tenant pushing 5× its rate for 3 s to its share, with no 5xx', async () => {
    const tenantId = `${database.namespace}-sustained`;
    const headers = await app.readHeaders(tenantId);
    const pending: Promise<Answer>[] = [];
    const intervalMs = 1_000 / (5 * RATE);
    const started = Date.now();
    for (let i = 0; i < 3 * 5 * RATE; i += 1) {
      pending.push(read(tenantId, headers));
      await sleep(Math.max(0, started + (i + 1) * intervalMs - Date.now()));
    }
    const sentForMs = Date.now() - started;
    const ok = expectOnlyOkOrLimited(await Promise.all(pending));
    // The burst plus the refill while sending, give or take one request at either end.
    expect(ok).toBeGreaterThanOrEqual(BURST + Math.floor((RATE * sentForMs) / 1_000) - 1);
    expect(ok).toBeLessThanOrEqual(ceiling(BURST, RATE, started));
  });

  it("sizes the share by the tenant's weight, and keeps tenants apart", async () => {
    const heavy = `${database.namespace}-heavy`;
    const light = `${database.namespace}-light`;
    const heavyHeaders = await app.readHeaders(heavy);
    const lightHeaders = await app.readHeaders(light);
    await admin.query('UPDATE tenants SET weight = 3 WHERE tenant_id = $1', [heavy]);
    const startedAt = Date.now();
    const [heavyAnswers, lightAnswers] = await Promise.all([
      Promise.all(Array.from({ length: 5 * 3 * BURST }, () => read(heavy, heavyHeaders))),
      Promise.all(Array.from({ length: 5 * BURST }, () => read(light, lightHeaders))),
    ]);
    const heavyOk = expectOnlyOkOrLimited(heavyAnswers);
    const lightOk = expectOnlyOkOrLimited(lightAnswers);
    expect(heavyOk).toBeGreaterThanOrEqual(3 * BURST);
    expect(heavyOk).toBeLessThanOrEqual(ceiling(3 * BURST, 3 * RATE, startedAt));
    expect(lightOk).toBeGreaterThanOrEqual(BURST);
    expect(lightOk).toBeLessThanOrEqual(ceiling(BURST, RATE, startedAt));
  });

  // Issue 13, item 4: the limiter charged the target tenant only, so an operator token could drain any tenant's share.
  it("holds an operator token to its own share of the tenant it reads; the tenant's own token gets the rest", async () => {
    const tenantId = `${database.namespace}-operated`;
    const headers = await app.readHeaders(tenantId);
    const operator = {
      authorization: `Bearer ${await app.mintToken({ tenant: `${database.namespace}-ops`, scopes: ['coherence:read'] })}`,
    };
    const startedAt = Date.now();
    const operatorOk = expectOnlyOkOrLimited(await Promise.all(Array.from({ length: 5 * BURST }, () => read(tenantId, operator))));
    expect(operatorOk).toBeGreaterThanOrEqual(CALLER_BURST);
    expect(operatorOk).toBeLessThanOrEqual(ceiling(CALLER_BURST, CALLER_RATE, startedAt));
    // The operator's refusals charged the tenant nothing: what the operator did not take is its own token's.
    const ownOk = expectOnlyOkOrLimited(await Promise.all(Array.from({ length: BURST }, () => read(tenantId, headers))));
    expect(ownOk).toBeGreaterThanOrEqual(BURST - operatorOk);
  });

  it('lets the tenant in again once Retry-After has passed', async () => {
    const tenantId = `${database.namespace}-retry`;
    const headers = await app.readHeaders(tenantId);
    let refused: Answer | undefined;
    for (let i = 0; i < 3 * BURST && !refused; i += 1) {
      const answer = await read(tenantId, headers);
      if (answer.status === 429) refused = answer;
    }
    expect(refused?.retryAfter).toBe('1');
    await sleep(Number(refused!.retryAfter) * 1_000);
    expect((await read(tenantId, headers)).status).toBe(200);
  });

  it('spends nothing on requests the policy refuses', async () => {
    const tenantId = `${database.namespace}-guarded`;
    const headers = await app.readHeaders(tenantId);
    const intruder = await app.readHeaders(`${database.namespace}-intruder`);
    const refused = await Promise.all(Array.from({ length: 3 * BURST }, () => read(tenantId, intruder)));
    expect(refused.every((answer) => answer.status === 403)).toBe(true);
    const answers = await Promise.all(Array.from({ length: BURST }, () => read(tenantId, headers)));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
  });
});
