import { TENANTS_TOUCHED_EXTENSION } from '@coherence/contracts';
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createGatewayCalls, type GatewayCalls } from '@coherence/testkit';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { seedOperatorCommands } from './testing/seedOperatorCommands';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readCommsConfig } from './config';
import { createCommsService } from './createCommsService';

/**
 * The operator API against the real Postgres, called as the gateway calls
 * it: it answers only for the tenants residing in the region the gateway's
 * internal token names (`tenants.residency`), refuses every field without a
 * token, and reports the tenants whose rows it returned or changed.
 */
const keyDir = mkdtempSync(join(tmpdir(), 'comms-internal-keys-'));
let gatewayCalls: GatewayCalls;
let database: TestDatabase;
let pool: PgPool;
let admin: PgPool;
let comms: Awaited<ReturnType<typeof createCommsService>>;
let graphqlUrl: string;

const tenant = (name: string) => `${database.namespace}-${name}`;
/** Commands by tenant name: `open` in troubleshooting, `waiting` pending. */
const commands: Record<string, { open: string; waiting: string }> = {};

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  pool = createPgPool(database.urls.comms);
  admin = createPgPool(database.adminUrl);
  gatewayCalls = await createGatewayCalls(keyDir);
  comms = await createCommsService(
    readCommsConfig({ COMMS_DATABASE_URL: database.urls.comms, SUBGRAPH_INTERNAL_JWKS: gatewayCalls.jwksPath }),
    createLogger('comms-test', 'silent'),
  );
  await comms.app.listen({ port: 0, host: '127.0.0.1' });
  graphqlUrl = `http://127.0.0.1:${(comms.app.server.address() as AddressInfo).port}/graphql`;

  // `ghost` has no tenants row: its residency is unknown, so no region answers for it.
  for (const [name, residency] of [
    ['us-a', 'us'],
    ['us-b', 'us'],
    ['eu-a', 'eu'],
    ['ghost', null],
  ] as const) {
    if (residency) await admin.query('INSERT INTO tenants (tenant_id, residency) VALUES ($1, $2)', [tenant(name), residency]);
    const { open, waiting } = await seedOperatorCommands(pool, admin, tenant(name));
    await admin.query(
      `INSERT INTO comms_envelopes (envelope_id, tenant_id, channel, direction, provider, correlation_id, received_at, payload)
       VALUES ($1, $2, 'sms', 'inbound', 'twilio', 'corr', now(), '{}')`,
      [randomUUID(), tenant(name)],
    );
    commands[name] = { open, waiting };
  }
});

afterAll(async () => {
  await comms?.close();
  await pool?.end();
  await admin?.end();
  await database?.drop();
  rmSync(keyDir, { recursive: true, force: true });
});

interface Answer<T> {
  data: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
  extensions?: Record<string, unknown>;
}

/** One call as the gateway of `region` makes it: its token carries the tenant the variables name, as the policy admitted it. */
async function call<T>(region: string, query: string, variables: Record<string, unknown> = {}): Promise<Answer<T>> {
  const tenantIds = typeof variables['tenantId'] === 'string' ? [variables['tenantId']] : [];
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: gatewayCalls.headers('comms', { subject: 'ops-alice', scopes: ['comms:operate'], tenantIds, region }),
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as Answer<T>;
}

const COMMANDS = 'query($tenantId: ID) { commands(tenantId: $tenantId, first: 200) { id tenantId } }';
const QUEUE = 'query($first: Int) { troubleshootingQueue(first: $first) { edges { node { id tenantId } } pageInfo { hasNextPage } } }';
const AUDIT = 'query($id: ID!) { commandAudit(id: $id) { entries { action } error { code message } } }';
const MESSAGES = 'query($tenantId: ID!) { messages(tenantId: $tenantId) { id tenantId } }';
const ACTION = (name: string) =>
  `mutation($id: ID!, $reason: String!) { ${name}(id: $id, reason: $reason) { ok { id status } error { code message } } }`;

type Listed = { commands: { id: string; tenantId: string }[] };
type Queue = { troubleshootingQueue: { edges: { node: { id: string; tenantId: string } }[]; pageInfo: { hasNextPage: boolean } } };
type Action = Record<string, { ok: { id: string; status: string } | null; error: { code: string; message: string } | null }>;

async function stateOf(commandId: string) {
  const { rows } = await admin.query<{ state: string; audit: number }>(
    `SELECT state, (SELECT count(*)::int FROM dispatch_audit a WHERE a.command_id = c.command_id) AS audit
       FROM dispatch_commands c WHERE command_id = $1`,
    [commandId],
  );
  return rows[0];
}

describe("operator fields without the gateway's internal token", () => {
  it.each([
    ['commands', COMMANDS, {}],
    ['troubleshootingQueue', QUEUE, {}],
    ['commandAudit', AUDIT, { id: 'x' }],
    ['messages', MESSAGES, { tenantId: 'x' }],
    ['retryCommand', ACTION('retryCommand'), { id: 'x', reason: 'r' }],
    ['cancelCommand', ACTION('cancelCommand'), { id: 'x', reason: 'r' }],
    ['completeCommand', ACTION('completeCommand'), { id: 'x', reason: 'r' }],
  ])('refuses %s as INTERNAL_TOKEN_MISSING (fail closed)', async (_field, query, variables) => {
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('INTERNAL_TOKEN_MISSING');
  });

  it('changes nothing when refused', async () => {
    const before = await stateOf(commands['us-a']!.open);
    await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: ACTION('cancelCommand'), variables: { id: commands['us-a']!.open, reason: 'no token' } }),
    });
    expect(await stateOf(commands['us-a']!.open)).toEqual(before);
  });
});

describe('operator fields in a region', () => {
  it("lists only the commands, queue and messages of the region's tenants", async () => {
    const ids = (...names: string[]) => names.flatMap((name) => [commands[name]!.open, commands[name]!.waiting]).sort();
    const listedIn = async (region: string) => (await call<Listed>(region, COMMANDS)).data!.commands.map((c) => c.id).sort();
    expect(await listedIn('us')).toEqual(ids('us-a', 'us-b'));
    expect(await listedIn('eu')).toEqual(ids('eu-a'));
    expect(await listedIn('ap')).toEqual([]);
    expect((await call<Listed>('us', COMMANDS, { tenantId: tenant('eu-a') })).data!.commands).toEqual([]);

    const queue = await call<Queue>('us', QUEUE, { first: 200 });
    expect(queue.data!.troubleshootingQueue.edges.map((e) => e.node.id).sort()).toEqual(
      [commands['us-a']!.open, commands['us-b']!.open].sort(),
    );

    type Messages = { messages: { tenantId: string }[] };
    expect((await call<Messages>('us', MESSAGES, { tenantId: tenant('us-a') })).data!.messages).toEqual([
      { id: expect.any(String), tenantId: tenant('us-a') },
    ]);
    expect((await call<Messages>('us', MESSAGES, { tenantId: tenant('eu-a') })).data!.messages).toEqual([]);
  });

  it("answers a by-id action on another region's command as COMMAND_NOT_FOUND, like a command that does not exist, and changes nothing", async () => {
    const elsewhere = commands['eu-a']!.open;
    const before = await stateOf(elsewhere);
    const missing = randomUUID();
    for (const name of ['retryCommand', 'cancelCommand', 'completeCommand']) {
      const answer = await call<Action>('us', ACTION(name), { id: elsewhere, reason: 'from the wrong region' });
      const nothing = await call<Action>('us', ACTION(name), { id: missing, reason: 'from the wrong region' });
      expect(answer.data![name]).toEqual({ ok: null, error: { code: 'COMMAND_NOT_FOUND', message: `no command ${elsewhere}` } });
      expect(nothing.data![name]).toEqual({ ok: null, error: { code: 'COMMAND_NOT_FOUND', message: `no command ${missing}` } });
    }
    type Audit = { commandAudit: { entries: unknown; error: { code: string } | null } };
    expect((await call<Audit>('us', AUDIT, { id: elsewhere })).data!.commandAudit).toEqual({
      entries: null,
      error: { code: 'COMMAND_NOT_FOUND', message: `no command ${elsewhere}` },
    });
    expect(await stateOf(elsewhere)).toEqual(before);

    // Its own region's gateway acts on it.
    const home = await call<Action>('eu', ACTION('cancelCommand'), { id: elsewhere, reason: 'handled in eu' });
    expect(home.data!['cancelCommand']).toEqual({ ok: { id: elsewhere, status: 'CANCELLED' }, error: null });
    expect(await stateOf(elsewhere)).toEqual({ state: 'cancelled', audit: before!.audit + 1 });
  });
});

describe('tenants touched', () => {
  const touched = (answer: Answer<unknown>) => answer.extensions?.[TENANTS_TOUCHED_EXTENSION];

  it('reports the tenants of the rows returned, not of rows read ahead for paging', async () => {
    expect((touched(await call('us', COMMANDS)) as string[]).sort()).toEqual([tenant('us-a'), tenant('us-b')]);
    const onePage = await call<Queue>('us', QUEUE, { first: 1 });
    expect(onePage.data!.troubleshootingQueue.pageInfo.hasNextPage).toBe(true);
    expect(touched(onePage)).toEqual([onePage.data!.troubleshootingQueue.edges[0]!.node.tenantId]);
  });

  it("reports the command's tenant for a by-id action, also when the action does not apply, and nothing when it finds nothing", async () => {
    const { waiting } = commands['us-b']!;
    expect(touched(await call('us', AUDIT, { id: waiting }))).toEqual([tenant('us-b')]);
    const notApplicable = await call<Action>('us', ACTION('retryCommand'), { id: waiting, reason: 'pending, not troubleshooting' });
    expect(notApplicable.data!['retryCommand']?.error?.code).toBe('INVALID_TRANSITION');
    expect(touched(notApplicable)).toEqual([tenant('us-b')]);
    expect(touched(await call('us', ACTION('retryCommand'), { id: commands['eu-a']!.waiting, reason: 'eu' }))).toBeUndefined();
    expect(touched(await call('us', COMMANDS, { tenantId: tenant('eu-a') }))).toBeUndefined();
  });
});
