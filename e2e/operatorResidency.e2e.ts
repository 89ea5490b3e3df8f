import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { seedOperatorCommands } from '@coherence/comms/testing/seedOperatorCommands';
import { startApplication } from './support/startApplication';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

/**
 * Operator operations keep to the gateway's region (issue 13, item 7), over
 * the whole application with the gateway in region `us`: an operator sees
 * and acts on the commands of `us` tenants only, whether or not the
 * operation names a tenant; a token that may not read in `us` is refused
 * whatever the operation; and each decision is filed under the tenants the
 * request touched, not the operator's own. (Operator operations are queries
 * and mutations: HTTP only, graphql-ws takes subscriptions alone.)
 */
const opId = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let pool: PgPool;
let admin: PgPool;

const tenant = (name: string) => `${database.namespace}-${name}`;
/** Commands by tenant name: `open` in troubleshooting, `waiting` pending. */
const commands: Record<string, { open: string; waiting: string }> = {};

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  app = await startApplication(inject('services'), database);
  pool = createPgPool(database.urls.comms);
  admin = createPgPool(database.adminUrl);
  for (const [name, residency] of [
    ['us-a', 'us'],
    ['us-b', 'us'],
    ['eu', 'eu'],
  ] as const) {
    await app.registerTenant(tenant(name), residency);
    commands[name] = await seedOperatorCommands(pool, admin, tenant(name));
  }
});

afterAll(async () => {
  await app?.stop();
  await pool?.end();
  await admin?.end();
  await database?.drop();
});

interface Answer<T> {
  status: number;
  correlationId: string;
  body: { data?: T; errors?: { extensions?: Record<string, unknown> }[]; extensions?: Record<string, unknown> };
}

/** A persisted operation through the gateway, by an operator of tenant `ops` whose token may read in `residency`. */
async function operate<T>(operation: string, variables: Record<string, unknown>, residency = ['us']): Promise<Answer<T>> {
  const token = await app.mintToken({ sub: 'ops-erin', tenant: tenant('ops'), scopes: ['comms:operate'], residency });
  // The correlation id is the trace id of the traceparent sent.
  const correlationId = randomBytes(16).toString('hex');
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      traceparent: `00-${correlationId}-${randomBytes(8).toString('hex')}-01`,
    },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: opId(operation) } }, variables }),
  });
  return { status: response.status, correlationId, body: (await response.json()) as Answer<T>['body'] };
}

async function decisionsFor(correlationId: string) {
  await app.gateway.flushDecisions();
  const { rows } = await admin.query<{ decision_id: string; tenant_id: string; subject: string; allow: boolean; reason_code: string }>(
    'SELECT decision_id, tenant_id, subject, allow, reason_code FROM policy_decisions WHERE correlation_id = $1 ORDER BY tenant_id',
    [correlationId],
  );
  return rows;
}

async function stateOf(commandId: string) {
  const { rows } = await admin.query<{ state: string; audit: number }>(
    `SELECT state, (SELECT count(*)::int FROM dispatch_audit a WHERE a.command_id = c.command_id) AS audit
       FROM dispatch_commands c WHERE command_id = $1`,
    [commandId],
  );
  return rows[0];
}

type Listed = { commands: { id: string }[] };
type Queue = { troubleshootingQueue: { edges: { node: { id: string } }[] } };
type Action = Record<string, { ok: { id: string; status: string } | null; error: { code: string } | null }>;
type Audit = { commandAudit: { entries: unknown; error: { code: string } | null } };

describe('an operator token of region us, at the gateway of us', () => {
  it('lists the commands and the queue of us tenants only, and files the decision under each tenant listed', async () => {
    const listed = await operate<Listed>('Commands', { first: 200 });
    expect(listed.body.errors).toBeUndefined();
    expect(listed.body.data!.commands.map((c) => c.id).sort()).toEqual(
      ['us-a', 'us-b'].flatMap((name) => [commands[name]!.open, commands[name]!.waiting]).sort(),
    );
    // What comms reports to the gateway stays there.
    expect(listed.body.extensions?.['tenantsTouched']).toBeUndefined();
    const decisions = await decisionsFor(listed.correlationId);
    expect(decisions.map(({ decision_id: _, ...row }) => row)).toEqual([
      { tenant_id: tenant('us-a'), subject: 'ops-erin', allow: true, reason_code: 'ALLOWED' },
      { tenant_id: tenant('us-b'), subject: 'ops-erin', allow: true, reason_code: 'ALLOWED' },
    ]);
    expect(new Set(decisions.map((d) => d.decision_id)).size).toBe(2);

    const queue = await operate<Queue>('TroubleshootingQueue', { first: 200 });
    expect(queue.body.data!.troubleshootingQueue.edges.map((e) => e.node.id).sort()).toEqual(
      [commands['us-a']!.open, commands['us-b']!.open].sort(),
    );
    expect((await decisionsFor(queue.correlationId)).map((d) => d.tenant_id)).toEqual([tenant('us-a'), tenant('us-b')]);
  });

  it("answers every by-id operation on an eu command as COMMAND_NOT_FOUND, changes nothing, and files it under the operator's own tenant", async () => {
    const { open } = commands['eu']!;
    const before = await stateOf(open);
    for (const name of ['RetryCommand', 'CancelCommand', 'CompleteCommand']) {
      const answer = await operate<Action>(name, { id: open, reason: 'from the us gateway' });
      expect(answer.status).toBe(200);
      const field = `${name[0]!.toLowerCase()}${name.slice(1)}`;
      expect(answer.body.data![field]).toMatchObject({ ok: null, error: { code: 'COMMAND_NOT_FOUND' } });
      expect((await decisionsFor(answer.correlationId)).map((d) => d.tenant_id)).toEqual([tenant('ops')]);
    }
    const audit = await operate<Audit>('CommandAudit', { id: open });
    expect(audit.body.data!.commandAudit).toMatchObject({ entries: null, error: { code: 'COMMAND_NOT_FOUND' } });
    expect(await stateOf(open)).toEqual(before);
  });

  it("files a by-id action under the command's tenant", async () => {
    const { open } = commands['us-b']!;
    const cancelled = await operate<Action>('CancelCommand', { id: open, reason: 'handled by phone' });
    expect(cancelled.body.data!['cancelCommand']).toMatchObject({ ok: { id: open, status: 'CANCELLED' }, error: null });
    expect((await decisionsFor(cancelled.correlationId)).map((d) => d.tenant_id)).toEqual([tenant('us-b')]);
    const audit = await operate<Audit>('CommandAudit', { id: open });
    expect((await decisionsFor(audit.correlationId)).map((d) => d.tenant_id)).toEqual([tenant('us-b')]);
  });

  it('is refused an eu tenant named in the variables (the tenant resides elsewhere)', async () => {
    const answer = await operate<Listed>('Commands', { tenantId: tenant('eu') });
    expect(answer.status).toBe(403);
    expect(answer.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reasonCode: 'RESIDENCY_VIOLATION' });
  });
});

describe('an operator token that may not read in us, at the gateway of us', () => {
  it.each([
    ['Commands', {}],
    ['TroubleshootingQueue', {}],
    ['RetryCommand', { id: randomUUID(), reason: 'from eu' }],
  ])("is refused %s as RESIDENCY_VIOLATION, filed under the operator's own tenant", async (operation, variables) => {
    const answer = await operate(operation, variables, ['eu']);
    expect(answer.status).toBe(403);
    expect(answer.body.data).toBeUndefined();
    expect(answer.body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reasonCode: 'RESIDENCY_VIOLATION' });
    expect((await decisionsFor(answer.correlationId)).map(({ tenant_id, allow, reason_code }) => [tenant_id, allow, reason_code])).toEqual([
      [tenant('ops'), false, 'RESIDENCY_VIOLATION'],
    ]);
  });

  it('touches nothing when refused', async () => {
    const { open } = commands['us-a']!;
    const before = await stateOf(open);
    expect((await operate('CancelCommand', { id: open, reason: 'from eu' }, ['eu'])).status).toBe(403);
    expect(await stateOf(open)).toEqual(before);
  });
});
