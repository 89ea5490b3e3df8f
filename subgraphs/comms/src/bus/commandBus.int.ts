import { devArtifactPublicKeyPath, readArtifactPublicKey } from '@coherence/auth';
import { createLogger, createPgPool, type PgPool } from '@coherence/platform';
import { createGatewayCalls, type GatewayCalls } from '@coherence/testkit';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { readCommsConfig } from '../config';
import { createCommsService } from '../createCommsService';
import { createSsrfGuard } from '../delivery/createSsrfGuard';
import { createWebhookHandler, NOTIFY_WEBHOOK } from '../delivery/createWebhookHandler';
import { createQuietHoursGate, localMinute, MAX_POLICY_ERROR_DEFERRALS } from '../quietHours/createQuietHoursGate';
import { loadQuietHoursPolicy } from '../quietHours/loadQuietHoursPolicy';
import { createReceiver, type Receiver } from '../testing/createReceiver';
import { createBusWorker, type BusWorker, type CommandHandler } from './createBusWorker';
import { sendCommand } from './sendCommand';

/**
 * The command bus against the real Postgres with real HTTP receivers on
 * loopback: retries with backoff, troubleshooting and operator actions
 * through the comms subgraph's GraphQL, idempotent sends, unknown types,
 * quiet hours, the SSRF guard, and graceful shutdown.
 */
const logger = createLogger('comms-test', 'silent');
let database: TestDatabase;
let pool: PgPool;
let admin: PgPool;
let receiver: Receiver;
let worker: BusWorker;
const webhookMetrics = new Registry();
let comms: Awaited<ReturnType<typeof createCommsService>>;
let graphqlUrl: string;
const keyDir = mkdtempSync(join(tmpdir(), 'comms-internal-keys-'));
let gatewayCalls: GatewayCalls;

beforeAll(async () => {
  database = await createTestDatabase(inject('services'));
  pool = createPgPool(database.urls.comms);
  admin = createPgPool(database.adminUrl);
  receiver = await createReceiver((path, n) => {
    if (path === '/flaky') return n <= 2 ? { status: 503, body: '{"error":"busy","token":"abc"}' } : { status: 204, body: '' };
    if (path === '/reject') return n === 1 ? { status: 400, body: '{"error":"bad"}' } : { status: 200 };
    if (path === '/down') return { status: 503 };
    if (path === '/redirect-inside') return { status: 307, body: '', headers: { location: 'http://127.0.0.2:9/' } };
    return { status: 200 };
  });
  const policy = await loadQuietHoursPolicy(readArtifactPublicKey(devArtifactPublicKeyPath));
  worker = createBusWorker({
    pool,
    region: 'us',
    listenUrl: database.urls.comms,
    handlers: {
      [NOTIFY_WEBHOOK]: createWebhookHandler({
        pool,
        guard: createSsrfGuard({ allow: ['127.0.0.1/32'] }),
        timeoutMs: 2_000,
        leaseMs: 5_000,
        quietHours: createQuietHoursGate({ pool, policy, region: 'us', subject: 'system:test-worker' }),
        metrics: webhookMetrics,
      }),
      'test.slow': async ({ signal }) => {
        await new Promise((resolve, reject) => {
          const timer = setTimeout(resolve, 30_000);
          signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason)));
        });
        return { outcome: 'done' };
      },
    } satisfies Record<string, CommandHandler>,
    logger,
    workerId: 'test-worker',
    concurrency: 4,
    leaseMs: 5_000,
    pollMs: 200,
    drainMs: 300,
    retry: { baseMs: 50, maxMs: 200 },
  });
  worker.start();
  gatewayCalls = await createGatewayCalls(keyDir);
  comms = await createCommsService(
    readCommsConfig({ COMMS_DATABASE_URL: database.urls.comms, SUBGRAPH_INTERNAL_JWKS: gatewayCalls.jwksPath, LOG_LEVEL: 'silent' }),
    logger,
  );
  await comms.app.listen({ port: 0, host: '127.0.0.1' });
  graphqlUrl = `http://127.0.0.1:${(comms.app.server.address() as AddressInfo).port}/graphql`;
});

afterAll(async () => {
  await worker?.stop();
  await comms?.close();
  await receiver?.close();
  await pool?.end();
  await admin?.end();
  await database?.drop();
  rmSync(keyDir, { recursive: true, force: true });
});

const tenant = (name: string) => `${database.namespace}-${name}`;

/** Registers `tenantId` (once) in region us: the worker's region, where the operator calls below come from too. */
const registerInUs = (tenantId: string) =>
  admin.query(`INSERT INTO tenants (tenant_id, residency) VALUES ($1, 'us') ON CONFLICT (tenant_id) DO NOTHING`, [tenantId]);

/** Sends a command for `tenantId`, registered in region us. */
async function send(tenantId: string, path: string, options: { type?: string; maxAttempts?: number; key?: string } = {}) {
  await registerInUs(tenantId);
  return sendCommand(pool, {
    commandId: randomUUID(),
    tenantId,
    type: options.type ?? NOTIFY_WEBHOOK,
    idempotencyKey: options.key ?? randomUUID(),
    correlationId: `corr-${randomUUID()}`,
    payload: { contactId: 'ops', url: receiver.url(path), body: { hello: 'world' } },
    maxAttempts: options.maxAttempts ?? 5,
  });
}

async function stateOf(commandId: string): Promise<{ state: string; attempts: number; last_error: { code: string } | null }> {
  const { rows } = await admin.query('SELECT state, attempts, last_error FROM dispatch_commands WHERE command_id = $1', [commandId]);
  return rows[0];
}

const waitForState = (commandId: string, state: string, timeout = 10_000) =>
  vi.waitFor(async () => expect((await stateOf(commandId)).state).toBe(state), { timeout, interval: 50 });

async function audit(commandId: string) {
  const { rows } = await admin.query<{
    actor: string;
    action: string;
    from_state: string | null;
    to_state: string;
    reason: string;
    correlation_id: string;
  }>('SELECT actor, action, from_state, to_state, reason, correlation_id FROM dispatch_audit WHERE command_id = $1 ORDER BY audit_id', [
    commandId,
  ]);
  return rows;
}

/** What the gateway of region us sends with an operator's call: its token carries the tenant the variables name (`tenantId`, `filter.tenantId`). */
function operatorHeaders(subject: string, variables: Record<string, unknown>) {
  const filter = variables['filter'] as { tenantId?: unknown } | undefined;
  const tenantIds = [variables['tenantId'], filter?.tenantId].filter((id): id is string => typeof id === 'string');
  return gatewayCalls.headers('comms', { subject, scopes: ['comms:operate'], tenantIds, region: 'us' });
}

async function callSubgraph<T>(query: string, variables: Record<string, unknown>, subject = 'ops-alice'): Promise<T> {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: await operatorHeaders(subject, variables),
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data: T; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data;
}

const ACTION = (name: string) => `
  mutation($id: ID!, $reason: String!) { ${name}(id: $id, reason: $reason) { ok { id status attempts } error { code message } } }`;

/** The value of one series of the webhook handler's counters (0 before its first increment). */
async function counted(name: string, labels: Record<string, string>): Promise<number> {
  const { values } = await webhookMetrics.getSingleMetric(name)!.get();
  return values.find((v) => Object.entries(labels).every(([key, value]) => v.labels[key] === value))?.value ?? 0;
}

describe('delivery with retries', () => {
  it('delivers once in effect to a receiver that fails twice, with two retries in the audit', async () => {
    const { commandId } = await send(tenant('flaky'), '/flaky');
    await waitForState(commandId, 'succeeded');
    expect(await counted('comms_notifications_delivered_total', { tenant: tenant('flaky') })).toBe(1);
    expect(receiver.to('/flaky')).toHaveLength(3);
    // Every attempt carries the same idempotency key, so the receiver can tell the retries apart from new notifications.
    expect(new Set(receiver.to('/flaky').map((r) => r.headers['idempotency-key'])).size).toBe(1);
    const trail = await audit(commandId);
    expect(trail.map((a) => `${a.action}:${a.from_state ?? '-'}>${a.to_state}`)).toEqual([
      'send:->pending',
      'claim:pending>running',
      'retry:running>pending',
      'claim:pending>running',
      'retry:running>pending',
      'claim:pending>running',
      'complete:running>succeeded',
    ]);
    expect(trail.filter((a) => a.action === 'retry').every((a) => a.reason.startsWith('WEBHOOK_UNAVAILABLE'))).toBe(true);
    expect(trail.slice(1).every((a) => a.actor === 'system:test-worker')).toBe(true);
    expect(new Set(trail.map((a) => a.correlation_id)).size).toBe(1);
    const deliveries = await admin.query<{ outcome: string; status: number; latency_ms: number; response: { body: string } }>(
      'SELECT outcome, status, latency_ms, response FROM comms_deliveries WHERE command_id = $1 ORDER BY attempt',
      [commandId],
    );
    expect(deliveries.rows.map((d) => [d.outcome, d.status])).toEqual([
      ['transient', 503],
      ['transient', 503],
      ['delivered', 204],
    ]);
    expect(deliveries.rows[0]!.response.body).toContain('"error":"busy"');
    expect(deliveries.rows[0]!.response.body).not.toContain('abc');
  });

  it('moves a command to troubleshooting when its retries run out, with the last error', async () => {
    const { commandId } = await send(tenant('exhaust'), '/down', { maxAttempts: 2 });
    await waitForState(commandId, 'troubleshooting');
    expect(receiver.to('/down')).toHaveLength(2);
    expect(await stateOf(commandId)).toMatchObject({
      attempts: 2,
      last_error: expect.objectContaining({ code: 'WEBHOOK_UNAVAILABLE', kind: 'transient', attempt: 2 }),
    });
    expect((await audit(commandId)).at(-1)).toMatchObject({
      action: 'fail',
      to_state: 'troubleshooting',
      reason: expect.stringContaining('retries exhausted after 2 attempts'),
    });
  });

  it('completes a delivered call whose bookkeeping write fails, instead of retrying it (no second delivery)', async () => {
    const tenantId = tenant('record-fails');
    // Real Postgres refuses the delivery row of this tenant only.
    await admin.query(`CREATE FUNCTION refuse_delivery_row() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'delivery rows refused for this test'; END $$`);
    await admin.query(`CREATE TRIGGER refuse_delivery_row BEFORE INSERT ON comms_deliveries FOR EACH ROW
      WHEN (NEW.tenant_id = '${tenantId}') EXECUTE FUNCTION refuse_delivery_row()`);
    try {
      const { commandId } = await send(tenantId, '/recorded-nowhere');
      await waitForState(commandId, 'succeeded');
      expect(await stateOf(commandId)).toMatchObject({ attempts: 1, last_error: null });
      expect(receiver.to('/recorded-nowhere')).toHaveLength(1);
      expect((await audit(commandId)).map((a) => a.action)).not.toContain('retry');
    } finally {
      await admin.query('DROP TRIGGER refuse_delivery_row ON comms_deliveries');
      await admin.query('DROP FUNCTION refuse_delivery_row()');
    }
  });
});

describe('lease', () => {
  it('does not POST when the lease was taken over while the quiet-hours check waited', async () => {
    const tenantId = tenant('lease-lost');
    // Hold the decisions table: the handler's quiet-hours check blocks on its INSERT, after the claim.
    const blocker = await admin.connect();
    let released = false;
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE comms_policy_decisions IN ACCESS EXCLUSIVE MODE');
      const { commandId } = await send(tenantId, '/lease-lost');
      await vi.waitFor(
        async () => {
          const { rows } = await admin.query(
            `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO comms_policy_decisions%'`,
          );
          expect(rows).toHaveLength(1);
        },
        { timeout: 5_000, interval: 50 },
      );
      // Another worker takes the command over meanwhile (as after a lease expiry).
      const takeover = await admin.query(
        `UPDATE dispatch_commands SET lease_token = gen_random_uuid(), lease_expires_at = now() + interval '1 hour'
          WHERE command_id = $1 AND state = 'running'`,
        [commandId],
      );
      expect(takeover.rowCount).toBe(1);
      await blocker.query('COMMIT');
      released = true;
      // The decision is written, then the handler finds its lease gone and sends nothing.
      await vi.waitFor(
        async () => expect((await admin.query('SELECT 1 FROM comms_policy_decisions WHERE tenant_id = $1', [tenantId])).rowCount).toBe(1),
        { timeout: 5_000, interval: 50 },
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(receiver.to('/lease-lost')).toHaveLength(0);
      expect((await stateOf(commandId)).state).toBe('running'); // the new owner's, untouched by the old one
      await admin.query(
        `UPDATE dispatch_commands SET state = 'cancelled', lease_token = NULL, lease_expires_at = NULL WHERE command_id = $1`,
        [commandId],
      );
    } finally {
      if (!released) await blocker.query('ROLLBACK');
      blocker.release();
    }
  });
});

describe('LISTEN connection', () => {
  it('closes a connection whose LISTEN is refused (a standby), instead of leaking one per loop', async () => {
    const services = inject('services');
    // The test database on the streaming replica: connecting works, LISTEN does not (recovery).
    const onReplica = (url: string) => {
      const replica = new URL(url);
      replica.port = String(services.postgres.replicaPort);
      return replica.toString();
    };
    const standbyWorker = createBusWorker({
      pool,
      region: 'us',
      listenUrl: onReplica(database.urls.comms),
      handlers: {},
      logger,
      workerId: 'listen-test-worker',
      concurrency: 1,
      leaseMs: 5_000,
      pollMs: 50,
      drainMs: 100,
      retry: { baseMs: 50, maxMs: 200 },
    });
    standbyWorker.start();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await standbyWorker.stop();
    const replicaAdmin = createPgPool(onReplica(database.adminUrl));
    try {
      const { rows } = await replicaAdmin.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND usename = 'comms_app'`,
      );
      expect(rows[0]!.n).toBe(0);
    } finally {
      await replicaAdmin.end();
    }
  });
});

describe('troubleshooting and operator actions', () => {
  it('sends a 400 straight to troubleshooting; an operator retry then succeeds; all audited with the operator', async () => {
    const { commandId } = await send(tenant('reject'), '/reject');
    await waitForState(commandId, 'troubleshooting');
    expect(receiver.to('/reject')).toHaveLength(1);
    expect((await stateOf(commandId)).last_error?.code).toBe('WEBHOOK_REJECTED');

    const queue = await callSubgraph<{
      troubleshootingQueue: { edges: { node: { id: string; lastError: { code: string; kind: string } } }[] };
    }>(
      `
        query ($filter: TroubleshootingFilter) {
          troubleshootingQueue(filter: $filter) {
            edges {
              node {
                id
                lastError {
                  code
                  kind
                }
              }
            }
          }
        }
      `,
      { filter: { tenantId: tenant('reject') } },
    );
    expect(queue.troubleshootingQueue.edges.map((e) => e.node)).toEqual([
      { id: commandId, lastError: { code: 'WEBHOOK_REJECTED', kind: 'permanent' } },
    ]);

    const noReason = await callSubgraph<{ retryCommand: { error: { code: string } } }>(ACTION('retryCommand'), {
      id: commandId,
      reason: '  ',
    });
    expect(noReason.retryCommand.error.code).toBe('REASON_REQUIRED');
    const retried = await callSubgraph<{ retryCommand: { ok: { status: string; attempts: number } } }>(ACTION('retryCommand'), {
      id: commandId,
      reason: 'receiver fixed its validation',
    });
    expect(retried.retryCommand.ok).toEqual({ id: commandId, status: 'PENDING', attempts: 0 });
    await waitForState(commandId, 'succeeded');
    expect(receiver.to('/reject')).toHaveLength(2);

    const trail = await audit(commandId);
    const byOperator = trail.find((a) => a.action === 'retry' && a.actor.startsWith('operator'));
    expect(byOperator).toMatchObject({
      actor: 'operator:ops-alice',
      from_state: 'troubleshooting',
      to_state: 'pending',
      reason: 'receiver fixed its validation',
    });
    expect(trail.at(-1)).toMatchObject({ action: 'complete', to_state: 'succeeded' });

    // Completing a succeeded command is not a transition: a typed error, nothing changes.
    const again = await callSubgraph<{ completeCommand: { ok: null; error: { code: string } } }>(ACTION('completeCommand'), {
      id: commandId,
      reason: 'twice',
    });
    expect(again.completeCommand).toMatchObject({ ok: null, error: { code: 'INVALID_TRANSITION' } });
  });

  it('audits an operator cancel and an operator complete', async () => {
    const first = await send(tenant('cancel'), '/reject-cancel', { type: 'notify.unknown' });
    const second = await send(tenant('cancel'), '/reject-complete', { type: 'notify.unknown' });
    await waitForState(first.commandId, 'troubleshooting');
    await waitForState(second.commandId, 'troubleshooting');
    expect((await stateOf(first.commandId)).last_error?.code).toBe('UNKNOWN_COMMAND_TYPE');

    const cancelled = await callSubgraph<{ cancelCommand: { ok: { status: string } } }>(
      ACTION('cancelCommand'),
      { id: first.commandId, reason: 'obsolete alert' },
      'ops-bob',
    );
    expect(cancelled.cancelCommand.ok.status).toBe('CANCELLED');
    const completed = await callSubgraph<{ completeCommand: { ok: { status: string } } }>(
      ACTION('completeCommand'),
      { id: second.commandId, reason: 'phoned the customer' },
      'ops-carol',
    );
    expect(completed.completeCommand.ok.status).toBe('SUCCEEDED');

    const auditQuery = `query($id: ID!) { commandAudit(id: $id) { entries { actor action from to reason } error { code } } }`;
    const cancelAudit = await callSubgraph<{
      commandAudit: { entries: { actor: string; action: string; from: string; to: string; reason: string }[] };
    }>(auditQuery, {
      id: first.commandId,
    });
    expect(cancelAudit.commandAudit.entries.at(-1)).toEqual({
      actor: 'operator:ops-bob',
      action: 'cancel',
      from: 'TROUBLESHOOTING',
      to: 'CANCELLED',
      reason: 'obsolete alert',
    });
    const completeAudit = await callSubgraph<{ commandAudit: { entries: { actor: string; to: string; reason: string }[] } }>(auditQuery, {
      id: second.commandId,
    });
    expect(completeAudit.commandAudit.entries.at(-1)).toMatchObject({
      actor: 'operator:ops-carol',
      to: 'SUCCEEDED',
      reason: 'phoned the customer',
    });

    const missing = await callSubgraph<{ commandAudit: { entries: null; error: { code: string } } }>(auditQuery, { id: randomUUID() });
    expect(missing.commandAudit).toEqual({ entries: null, error: { code: 'COMMAND_NOT_FOUND' } });
    const listed = await callSubgraph<{ commands: { id: string; status: string }[] }>(
      `
        query ($tenantId: ID) {
          commands(tenantId: $tenantId, status: CANCELLED) {
            id
            status
          }
        }
      `,
      { tenantId: tenant('cancel') },
    );
    expect(listed.commands).toEqual([{ id: first.commandId, status: 'CANCELLED' }]);
  });

  it('pages the troubleshooting queue with a cursor', async () => {
    const tenantId = tenant('paging');
    const ids = [];
    for (let i = 0; i < 3; i += 1) ids.push((await send(tenantId, '/x', { type: 'notify.unknown' })).commandId);
    for (const id of ids) await waitForState(id, 'troubleshooting');
    const page = `query($filter: TroubleshootingFilter, $after: String) {
      troubleshootingQueue(filter: $filter, first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`;
    type Page = { troubleshootingQueue: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } };
    const one = await callSubgraph<Page>(page, { filter: { tenantId } });
    expect(one.troubleshootingQueue.pageInfo.hasNextPage).toBe(true);
    const two = await callSubgraph<Page>(page, { filter: { tenantId }, after: one.troubleshootingQueue.pageInfo.endCursor });
    expect(two.troubleshootingQueue.pageInfo.hasNextPage).toBe(false);
    const seen = [...one.troubleshootingQueue.edges, ...two.troubleshootingQueue.edges].map((e) => e.node.id);
    // The whole list, each command once (updated_at has microseconds; a millisecond cursor repeated the cursor's row).
    expect(seen).toHaveLength(ids.length);
    expect([...seen].sort()).toEqual([...ids].sort());

    // One at a time: every step advances to a new command and the walk ends.
    const single = `query($filter: TroubleshootingFilter, $after: String) {
      troubleshootingQueue(filter: $filter, first: 1, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`;
    const walked: string[] = [];
    let after: string | undefined;
    for (let step = 0; step <= ids.length; step += 1) {
      const { troubleshootingQueue: q } = await callSubgraph<Page>(single, { filter: { tenantId }, ...(after ? { after } : {}) });
      walked.push(...q.edges.map((e) => e.node.id));
      if (!q.pageInfo.hasNextPage) break;
      after = q.pageInfo.endCursor;
    }
    expect(walked).toEqual(seen);
  });

  it('refuses malformed operator input as INVALID_ARGUMENT, not as an internal error', async () => {
    const rawCall = async (query: string, variables: Record<string, unknown>) => {
      const response = await fetch(graphqlUrl, {
        method: 'POST',
        headers: await operatorHeaders('ops-alice', variables),
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as { data: Record<string, unknown> | null; errors?: { extensions?: { code?: string } }[] };
    };
    const codes = (body: Awaited<ReturnType<typeof rawCall>>) => body.errors?.map((e) => e.extensions?.code);
    const commandsQuery = 'query($from: DateTime, $to: DateTime) { commands(from: $from, to: $to) { id } }';
    // Date.parse takes these; Postgres refuses them (or they are not ISO-8601 at all).
    for (const from of ['2026-02-30T00:00:00Z', 'Nov 25 2026', '0000-01-01T00:00:00Z', '2026-11-25', '2026-11-25T24:00:00Z'])
      expect(codes(await rawCall(commandsQuery, { from })), from).toEqual(['INVALID_ARGUMENT']);
    expect(codes(await rawCall(commandsQuery, { from: '2026-11-25T03:00:00.123456+02:00', to: '2026-11-26T00:00:00Z' }))).toBeUndefined();

    const queue = 'query($after: String) { troubleshootingQueue(first: 1, after: $after) { edges { cursor } } }';
    const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    expect(codes(await rawCall(queue, { after: cursor({ at: '2026-11-25T03:00:00.123456Z', id: 'not-a-uuid' }) }))).toEqual([
      'INVALID_ARGUMENT',
    ]);
    expect(codes(await rawCall(queue, { after: cursor({ at: '2026-02-30T00:00:00Z', id: randomUUID() }) }))).toEqual(['INVALID_ARGUMENT']);
    expect(codes(await rawCall(queue, { after: cursor({ at: '2026-11-25T03:00:00.123456Z', id: randomUUID() }) }))).toBeUndefined();

    const tenantId = tenant('reason');
    const { commandId } = await send(tenantId, '/x', { type: 'notify.unknown' });
    await waitForState(commandId, 'troubleshooting');
    const cancel = 'mutation($id: ID!, $reason: String!) { cancelCommand(id: $id, reason: $reason) { ok { id } error { code } } }';
    const tooLong = await callSubgraph<{ cancelCommand: unknown }>(cancel, { id: commandId, reason: 'x'.repeat(1_001) });
    expect(tooLong.cancelCommand).toEqual({ ok: null, error: { code: 'INVALID_ARGUMENT' } });
    expect((await stateOf(commandId)).state).toBe('troubleshooting');
    const fits = await callSubgraph<{ cancelCommand: unknown }>(cancel, { id: commandId, reason: 'x'.repeat(1_000) });
    expect(fits.cancelCommand).toEqual({ ok: { id: commandId }, error: null });
  });
});

describe('sending', () => {
  it('returns the first command for a repeated idempotency key and creates nothing', async () => {
    const tenantId = tenant('idem');
    const first = await send(tenantId, '/idem', { key: 'same-key' });
    const second = await send(tenantId, '/idem', { key: 'same-key' });
    expect(first.created).toBe(true);
    expect(second).toEqual({ commandId: first.commandId, created: false });
    const { rows } = await admin.query('SELECT count(*)::int AS n FROM dispatch_commands WHERE tenant_id = $1', [tenantId]);
    expect(rows[0].n).toBe(1);
    await waitForState(first.commandId, 'succeeded');
    expect(receiver.to('/idem')).toHaveLength(1);
  });
});

describe('quiet hours', () => {
  it('defers a notification inside the window until it ends, records the decision, and does not count an attempt', async () => {
    const tenantId = tenant('quiet');
    // A window around the real current time, in the tenant's zone: from an hour ago to two hours ahead.
    const nowMinute = localMinute(new Date(), 'Asia/Tokyo');
    const hhmm = (minute: number) => {
      const m = (minute + 1_440) % 1_440;
      return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    };
    const endsAt = hhmm(nowMinute + 120);
    await admin.query(`INSERT INTO comms_quiet_hours (tenant_id, time_zone, starts_at, ends_at) VALUES ($1, 'Asia/Tokyo', $2, $3)`, [
      tenantId,
      hhmm(nowMinute - 60),
      endsAt,
    ]);
    const { commandId } = await send(tenantId, '/quiet');
    await vi.waitFor(async () => expect((await audit(commandId)).at(-1)?.action).toBe('defer'), { timeout: 5_000 });
    const { rows } = await admin.query<{ run_after: Date; attempts: number; state: string }>(
      'SELECT run_after, attempts, state FROM dispatch_commands WHERE command_id = $1',
      [commandId],
    );
    expect(rows[0]).toMatchObject({ state: 'pending', attempts: 0 });
    // Deferred to the minute the window ends (local time in the tenant's zone), roughly two hours from now.
    expect(localMinute(rows[0]!.run_after, 'Asia/Tokyo')).toBe((nowMinute + 120) % 1_440);
    expect(rows[0]!.run_after.getUTCSeconds()).toBe(0);
    expect(rows[0]!.run_after.getTime() - Date.now()).toBeGreaterThan(118 * 60_000);
    expect(receiver.to('/quiet')).toHaveLength(0);
    const decisions = await admin.query(
      'SELECT allow, reason_code, bundle_sha256, subject, operation_type FROM comms_policy_decisions WHERE tenant_id = $1',
      [tenantId],
    );
    expect(decisions.rows).toEqual([
      {
        allow: false,
        reason_code: 'QUIET_HOURS',
        bundle_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        subject: 'system:test-worker',
        operation_type: 'dispatch',
      },
    ]);

    // Once the window is over the deferred notification goes out (it was not dropped).
    await admin.query(`UPDATE comms_quiet_hours SET starts_at = $2, ends_at = $3 WHERE tenant_id = $1`, [
      tenantId,
      hhmm(nowMinute + 180),
      hhmm(nowMinute + 240),
    ]);
    await admin.query(`UPDATE dispatch_commands SET run_after = now() WHERE command_id = $1`, [commandId]);
    await waitForState(commandId, 'succeeded');
    expect(receiver.to('/quiet')).toHaveLength(1);
    const allowed = await admin.query('SELECT allow FROM comms_policy_decisions WHERE tenant_id = $1 ORDER BY decided_at', [tenantId]);
    expect(allowed.rows.map((r) => r.allow)).toEqual([false, true]);
  });

  it("refuses '24:00', and sends a command the policy cannot decide on to troubleshooting after a bounded number of deferrals", async () => {
    const tenantId = tenant('policy-error');
    const insert = `INSERT INTO comms_quiet_hours (tenant_id, time_zone, starts_at, ends_at) VALUES ($1, 'UTC', '22:00', '24:00')`;
    await expect(admin.query(insert, [tenantId])).rejects.toMatchObject({ code: '23514' });
    // A row from before migration 004 (the constraint is put back NOT VALID around it).
    await admin.query('ALTER TABLE comms_quiet_hours DROP CONSTRAINT comms_quiet_hours_ends_at_in_day');
    await admin.query(insert, [tenantId]);
    await admin.query(`ALTER TABLE comms_quiet_hours ADD CONSTRAINT comms_quiet_hours_ends_at_in_day CHECK (ends_at < '24:00') NOT VALID`);
    try {
      const { commandId } = await send(tenantId, '/policy-error');
      // Each deferral is 15 minutes; bring the command due again each time instead of waiting.
      await vi.waitFor(
        async () => {
          await admin.query(`UPDATE dispatch_commands SET run_after = now() WHERE command_id = $1 AND state = 'pending'`, [commandId]);
          expect((await stateOf(commandId)).state).toBe('troubleshooting');
        },
        { timeout: 15_000, interval: 100 },
      );
      const final = await stateOf(commandId);
      expect(final).toMatchObject({ attempts: 1, last_error: { code: 'QUIET_HOURS_POLICY_ERROR' } });
      const trail = await audit(commandId);
      expect(trail.filter((a) => a.action === 'defer')).toHaveLength(MAX_POLICY_ERROR_DEFERRALS - 1);
      expect(trail.every((a) => a.action !== 'defer' || a.reason.startsWith('POLICY_ERROR'))).toBe(true);
      const decisions = await admin.query('SELECT reason_code FROM comms_policy_decisions WHERE tenant_id = $1', [tenantId]);
      expect(decisions.rows.map((r) => r.reason_code)).toEqual(Array(MAX_POLICY_ERROR_DEFERRALS).fill('POLICY_ERROR'));
      expect(receiver.to('/policy-error')).toHaveLength(0);
    } finally {
      await admin.query('DELETE FROM comms_quiet_hours WHERE tenant_id = $1', [tenantId]);
      await admin.query('ALTER TABLE comms_quiet_hours VALIDATE CONSTRAINT comms_quiet_hours_ends_at_in_day');
    }
  });
});

describe('SSRF guard', () => {
  it('refuses a URL that resolves to a private range, records URL_BLOCKED, and sends the command to troubleshooting', async () => {
    const tenantId = tenant('ssrf');
    await registerInUs(tenantId);
    const { commandId } = await sendCommand(pool, {
      commandId: randomUUID(),
      tenantId,
      type: NOTIFY_WEBHOOK,
      idempotencyKey: 'metadata',
      correlationId: 'corr-ssrf',
      payload: { contactId: 'evil', url: 'http://169.254.169.254/latest/meta-data/', body: {} },
      maxAttempts: 5,
    });
    const blockedBefore = await counted('comms_webhook_deliveries_total', { outcome: 'blocked' });
    await waitForState(commandId, 'troubleshooting');
    expect((await stateOf(commandId)).last_error?.code).toBe('URL_BLOCKED');
    // What the SSRF-block alert counts.
    expect(await counted('comms_webhook_deliveries_total', { outcome: 'blocked' })).toBe(blockedBefore + 1);
    const events = await admin.query('SELECT kind, service, correlation_id, details FROM security_events WHERE tenant_id = $1', [tenantId]);
    expect(events.rows).toEqual([
      {
        kind: 'URL_BLOCKED',
        service: 'comms',
        correlation_id: 'corr-ssrf',
        details: expect.objectContaining({ address: '169.254.169.254', range: 'linkLocal' }),
      },
    ]);
  });

  it('refuses a redirect to a loopback address outside the allowlist', async () => {
    const tenantId = tenant('ssrf-redirect');
    const { commandId } = await send(tenantId, '/redirect-inside');
    await waitForState(commandId, 'troubleshooting');
    expect((await stateOf(commandId)).last_error?.code).toBe('URL_BLOCKED');
    const events = await admin.query('SELECT details FROM security_events WHERE tenant_id = $1', [tenantId]);
    expect(events.rows[0].details).toMatchObject({ address: '127.0.0.2', range: 'loopback' });
  });
});

describe('graceful shutdown', () => {
  it('releases a command still running after the drain period, without counting the attempt', async () => {
    const tenantId = tenant('drain');
    const { commandId } = await send(tenantId, '/unused', { type: 'test.slow' });
    await waitForState(commandId, 'running');
    await worker.stop();
    expect(await stateOf(commandId)).toMatchObject({ state: 'pending', attempts: 0 });
    expect((await audit(commandId)).at(-1)).toMatchObject({ action: 'release', from_state: 'running', to_state: 'pending' });
  });
});
