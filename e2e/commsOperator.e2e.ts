import { createCoherenceChangedMessage, INTERNAL_TOKEN_HEADER, type CoherenceStatus } from '@coherence/contracts';
import { createWorkerService, readCommsWorkerConfig } from '@coherence/comms';
import { createReceiver, type Receiver } from '@coherence/comms/testing';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createTestDatabase, freePort, type TestDatabase } from '@coherence/devservices';
import { startApplication } from './support/startApplication';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from './ingestProcesses';

/**
 * Comms in the whole application: `CoherenceChanged` on Redis becomes one
 * webhook notification per contact (a re-delivered event creates nothing),
 * a receiver that refuses lands in the troubleshooting queue, and an
 * operator works the queue through the gateway with persisted operations
 * under scope comms:operate, every action audited and tied to the gateway's
 * policy decision (which holds the verified operator).
 */
const opId = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;

let database: TestDatabase;
let app: Awaited<ReturnType<typeof startApplication>>;
let admin: PgPool;
let publisher: Redis;
let receiver: Receiver;
let worker: Awaited<ReturnType<typeof createWorkerService>>;
let channel: string;
let tenantId: string;

beforeAll(async () => {
  const services = inject('services');
  database = await createTestDatabase(services);
  app = await startApplication(services, database);
  admin = createPgPool(database.adminUrl);
  publisher = new Redis(services.redisUrl);
  channel = `${database.namespace}.coherence.changed`;
  tenantId = `${database.namespace}-acme`;
  await app.registerTenant(tenantId);
  receiver = await createReceiver((path) => (path === '/pager' ? { status: 400, body: '{"error":"unknown route"}' } : { status: 202 }));
  await admin.query(
    `INSERT INTO comms_contacts (tenant_id, contact_id, channel, url) VALUES ($1, 'chat', 'webhook', $2), ($1, 'pager', 'webhook', $3)`,
    [tenantId, receiver.url('/chat'), receiver.url('/pager')],
  );
  worker = await createWorkerService(workerConfig(), createLogger('comms-worker-test', 'silent'));
  await worker.start();
});

afterAll(async () => {
  await worker?.close();
  publisher?.disconnect();
  await receiver?.close();
  await app?.stop();
  await admin?.end();
  await database?.drop();
});

function workerConfig(redisUrl = inject('services').redisUrl) {
  return readCommsWorkerConfig({
    COMMS_DATABASE_URL: database.urls.comms,
    REDIS_URL: redisUrl,
    COHERENCE_CHANGED_CHANNEL: channel,
    COMMS_SSRF_ALLOW: '127.0.0.1/32',
    COMMS_POLL_MS: '200',
    COMMS_RETRY_BASE_MS: '50',
  });
}

function changed(previous: CoherenceStatus | null, status: CoherenceStatus, tenant = tenantId) {
  const score = { HEALTHY: 0.9, WARN: 0.6, CRITICAL: 0.2, UNKNOWN: null }[status];
  return createCoherenceChangedMessage({
    change: {
      tenantId: tenant,
      previous: previous ? { status: previous, score: { HEALTHY: 0.9, WARN: 0.6, CRITICAL: 0.2, UNKNOWN: null }[previous] } : null,
      current:
        score === null
          ? { tenantId: tenant, score: null, status, agreement: null, window: 'PT24H', updatedAt: new Date().toISOString(), sources: [] }
          : {
              tenantId: tenant,
              score,
              status,
              agreement: 1,
              window: 'PT24H',
              updatedAt: new Date().toISOString(),
              sources: [{ source: 'probe', score, count: 1 }],
            },
      changedAt: new Date().toISOString(),
    },
    timestamp: new Date().toISOString(),
    correlationId: `change-${status}-${Date.now()}`,
  });
}

async function commandsOf(tenant: string) {
  const { rows } = await admin.query<{
    command_id: string;
    idempotency_key: string;
    state: string;
    payload: { contactId: string; body: { status: string } };
  }>('SELECT command_id, idempotency_key, state, payload FROM dispatch_commands WHERE tenant_id = $1 ORDER BY created_at', [tenant]);
  return rows;
}

async function gateway<T>(
  operation: string,
  variables: Record<string, unknown>,
  scopes: string[],
  extraHeaders: Record<string, string> = {},
) {
  const token = await app.mintToken({ sub: 'ops-dana', tenant: `${database.namespace}-ops`, scopes });
  // With a traceparent, the request id is its trace id, on the gateway and on every subgraph call.
  const requestId = randomBytes(16).toString('hex');
  const response = await fetch(`${app.gatewayUrl}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${token}`,
      ...extraHeaders,
      traceparent: `00-${requestId}-${randomBytes(8).toString('hex')}-01`,
    },
    body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: opId(operation) } }, variables }),
  });
  return {
    status: response.status,
    requestId,
    body: (await response.json()) as { data?: T; errors?: { extensions?: Record<string, unknown> }[] },
  };
}

describe('notifications from CoherenceChanged', () => {
  it('notifies every contact once per status change, and a re-delivered event creates nothing', async () => {
    const critical = changed('HEALTHY', 'CRITICAL');
    await publisher.publish(channel, JSON.stringify(critical));
    await publisher.publish(channel, JSON.stringify(critical));
    // Not notifiable: first score of a tenant that is healthy.
    await publisher.publish(channel, JSON.stringify(changed(null, 'HEALTHY')));
    await waitFor('two commands', async () => (await commandsOf(tenantId)).length === 2, 10_000, 50);
    await waitFor('the chat delivery', async () => receiver.to('/chat').length === 1, 10_000, 50);

    await publisher.publish(channel, JSON.stringify(changed('CRITICAL', 'HEALTHY')));
    await waitFor('recovery commands', async () => (await commandsOf(tenantId)).length === 4, 10_000, 50);
    await waitFor('the recovery delivery', async () => receiver.to('/chat').length === 2, 10_000, 50);

    const commands = await commandsOf(tenantId);
    expect(commands.map((c) => [c.payload.contactId, c.payload.body.status]).sort()).toEqual([
      ['chat', 'CRITICAL'],
      ['chat', 'HEALTHY'],
      ['pager', 'CRITICAL'],
      ['pager', 'HEALTHY'],
    ]);
    expect(commands.every((c) => c.idempotency_key.startsWith('coherence-changed:'))).toBe(true);
    expect(receiver.to('/chat').map((r) => JSON.parse(r.body).status)).toEqual(['CRITICAL', 'HEALTHY']);
    await waitFor(
      'the pager commands to need an operator',
      async () => (await commandsOf(tenantId)).filter((c) => c.state === 'troubleshooting').length === 2,
      10_000,
      50,
    );
  });

  it('replays, at start, a change recorded while no worker was subscribed, once', async () => {
    const lateTenant = `${database.namespace}-late`;
    // Workers claim the commands of the tenants residing in their region (us) only.
    await app.registerTenant(lateTenant);
    await admin.query(`INSERT INTO comms_contacts (tenant_id, contact_id, channel, url) VALUES ($1, 'chat', 'webhook', $2)`, [
      lateTenant,
      receiver.url('/late'),
    ]);
    // What the relay leaves in the score history when pub/sub had no listener.
    const message = changed('HEALTHY', 'WARN', lateTenant);
    await admin.query(
      `INSERT INTO coherence_score_history (tenant_id, score, status, changed_at, message, published_at) VALUES ($1, 0.6, 'WARN', now(), $2, now())`,
      [lateTenant, JSON.stringify(message)],
    );
    for (let start = 0; start < 2; start += 1) {
      const late = await createWorkerService(workerConfig(), createLogger('comms-worker-test', 'silent'));
      await late.start();
      await waitFor('the late change to be delivered', async () => receiver.to('/late').length >= 1, 10_000, 50);
      await late.close();
    }
    expect((await commandsOf(lateTenant)).map((c) => [c.payload.contactId, c.payload.body.status, c.state])).toEqual([
      ['chat', 'WARN', 'succeeded'],
    ]);
    expect(receiver.to('/late')).toHaveLength(1);
  });
  it('starts while Redis is unreachable, keeps reconnecting, then replays and subscribes once it answers', async () => {
    const downTenant = `${database.namespace}-redis-down`;
    // Workers claim the commands of the tenants residing in their region (us) only.
    await app.registerTenant(downTenant);
    await admin.query(`INSERT INTO comms_contacts (tenant_id, contact_id, channel, url) VALUES ($1, 'chat', 'webhook', $2)`, [
      downTenant,
      receiver.url('/redis-down'),
    ]);
    // Nothing listens on this port until the forwarder below opens it in front of the real Redis.
    const port = await freePort();
    const late = await createWorkerService(workerConfig(`redis://127.0.0.1:${port}`), createLogger('comms-worker-test', 'silent'));
    let forwarder: Server | undefined;
    try {
      // Resolves once subscribed; used to reject at once (an unhandled rejection that killed the process).
      const started = late.start();
      const message = changed('HEALTHY', 'WARN', downTenant);
      await admin.query(
        `INSERT INTO coherence_score_history (tenant_id, score, status, changed_at, message, published_at) VALUES ($1, 0.6, 'WARN', now(), $2, now())`,
        [downTenant, JSON.stringify(message)],
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(receiver.to('/redis-down')).toHaveLength(0);

      const target = new URL(inject('services').redisUrl);
      forwarder = createServer((socket) => {
        const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
        socket.pipe(upstream).pipe(socket);
        const end = () => (socket.destroy(), upstream.destroy());
        socket.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
      });
      await new Promise<void>((resolve) => forwarder!.listen(port, '127.0.0.1', resolve));
      await started;
      // The change recorded while Redis was away comes from the history...
      await waitFor('the replayed change', async () => receiver.to('/redis-down').length === 1, 15_000, 50);
      // ...and the worker is subscribed: a live change arrives too (re-published until it does; one message, so one command).
      const live = JSON.stringify(changed('WARN', 'CRITICAL', downTenant));
      await waitFor(
        'a live change',
        async () => {
          await publisher.publish(channel, live);
          return receiver.to('/redis-down').length === 2;
        },
        10_000,
        200,
      );
      expect(receiver.to('/redis-down').map((r) => JSON.parse(r.body).status)).toEqual(['WARN', 'CRITICAL']);
    } finally {
      await late.close();
      await new Promise((resolve) => (forwarder ? forwarder.close(resolve) : resolve(undefined)));
    }
  });
});

describe('operator API through the gateway', () => {
  it('refuses a token without comms:operate', async () => {
    const { status, body } = await gateway('TroubleshootingQueue', { filter: { tenantId } }, ['coherence:read']);
    expect(status).toBe(403);
    expect(body.data).toBeUndefined();
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'FORBIDDEN', reasonCode: 'SCOPE_MISSING' });
  });

  it('lists the queue, cancels one command, completes the other, each audited and tied to the policy decision', async () => {
    type Queue = { troubleshootingQueue: { edges: { node: { id: string; tenantId: string; lastError: { code: string } } }[] } };
    const queue = await gateway<Queue>('TroubleshootingQueue', { filter: { tenantId } }, ['comms:operate']);
    expect(queue.body.errors).toBeUndefined();
    const nodes = queue.body.data!.troubleshootingQueue.edges.map((e) => e.node);
    expect(nodes).toHaveLength(2);
    expect(nodes.every((n) => n.lastError.code === 'WEBHOOK_REJECTED')).toBe(true);
    const [first, second] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];

    type Action = Record<string, { ok: { id: string; status: string } | null; error: { code: string } | null }>;
    // A client cannot choose the actor: the subject comes from the internal token the gateway mints from the verified one.
    const cancel = await gateway<Action>('CancelCommand', { id: first.id, reason: 'pager route retired' }, ['comms:operate'], {
      'x-coherence-subject': 'mallory',
      [INTERNAL_TOKEN_HEADER]: 'forged',
    });
    expect(cancel.body.data!['cancelCommand']).toMatchObject({ ok: { id: first.id, status: 'CANCELLED' }, error: null });
    const complete = await gateway<Action>('CompleteCommand', { id: second.id, reason: 'paged by phone' }, ['comms:operate']);
    expect(complete.body.data!['completeCommand']).toMatchObject({ ok: { status: 'SUCCEEDED' } });
    // An expected failure is data, not an error.
    const retry = await gateway<Action>('RetryCommand', { id: first.id, reason: 'try again' }, ['comms:operate']);
    expect(retry.body.errors).toBeUndefined();
    expect(retry.body.data!['retryCommand']).toMatchObject({
      ok: null,
      error: { code: 'INVALID_TRANSITION', message: expect.any(String) },
    });

    type Audit = {
      commandAudit: { entries: { actor: string; action: string; from: string; to: string; reason: string; correlationId: string }[] };
    };
    const audit = await gateway<Audit>('CommandAudit', { id: first.id }, ['comms:operate']);
    const cancelEntry = audit.body.data!.commandAudit.entries.at(-1)!;
    expect(cancelEntry).toMatchObject({ action: 'cancel', from: 'TROUBLESHOOTING', to: 'CANCELLED', reason: 'pager route retired' });
    expect(cancelEntry.actor).toBe('operator:ops-dana');
    // The audit row carries the gateway request's id; the gateway's decision for that id names the verified operator.
    expect(cancelEntry.correlationId).toBe(cancel.requestId);
    await waitFor(
      'the decision row',
      async () => (await admin.query('SELECT 1 FROM policy_decisions WHERE correlation_id = $1', [cancel.requestId])).rowCount === 1,
      5_000,
      50,
    );
    const decision = await admin.query('SELECT subject, allow FROM policy_decisions WHERE correlation_id = $1', [cancel.requestId]);
    expect(decision.rows[0]).toEqual({ subject: 'ops-dana', allow: true });

    const listed = await gateway<{ commands: { id: string; status: string }[] }>('Commands', { tenantId, status: 'SUCCEEDED' }, [
      'comms:operate',
    ]);
    expect(listed.body.data!.commands.map((c) => c.id)).toContain(second.id);
  });
});
