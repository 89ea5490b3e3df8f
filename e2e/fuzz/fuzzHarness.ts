import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createConsumerService, readIngestConsumerConfig } from '@coherence/ingest';
import { createLogger, createPgPool } from '@coherence/platform';
import { createTestDatabase, type TestDatabase } from '@coherence/devservices';
import { startApplication } from '../support/startApplication';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, it } from 'vitest';

/**
 * What every fuzz target runs against: its own database, the whole
 * application on the real servers (ingest, coherence, comms, gateway) with
 * the outbox relay running on its own as in production, the Kafka consumer
 * on a topic of its own (one partition, so an offset names one record), and
 * an admin connection to count what was stored. The invariants the targets
 * share live here too: what "stored nothing" means, the projection keeping
 * up, and the canary read through the gateway after a run.
 */
export const tenantCoherenceId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;

/** How long the canary may take from being pushed to being read through the gateway (issue 12). */
export const PROJECTION_DEADLINE_MS = 5_000;

/**
 * How long a case waits for the relay or the consumer to take its input before
 * the pipeline counts as stalled. This checks progress, not latency (the
 * canary checks that): generous, so a busy machine is not taken for a stall.
 */
export const STALL_DEADLINE_MS = 30_000;

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/**
 * One request with Node's HTTP client rather than fetch: fetch (undici)
 * refuses to send some header values itself (e.g. a malformed
 * `traceparent`), and the point here is to let the server judge them.
 */
export function httpRequest(url: string, method: 'GET' | 'POST', headers: Record<string, string>, body?: string | Uint8Array) {
  return new Promise<HttpResult>((resolve, reject) => {
    const outgoing = http.request(url, { method, headers, agent }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, text, json });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

// A connection per request: a server that answers 431 or 400 closes it, and a reused socket would then fail on the client side.
const agent = new http.Agent({ keepAlive: false });

export interface StoredCounts {
  ledger: number;
  outbox: number;
  idempotencyKeys: number;
  commands: number;
  commandAudit: number;
}

export type FuzzHarness = Awaited<ReturnType<typeof startFuzzHarness>>;

export async function startFuzzHarness() {
  const services = inject('services');
  const stops: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  };
  try {
    const database: TestDatabase = await createTestDatabase(services);
    stops.push(() => database.drop());
    const admin = createPgPool(database.adminUrl, { max: 2 });
    stops.push(() => admin.end());
    const app = await startApplication(services, database);
    stops.push(() => app.stop());
    app.relay.start();

    const topic = `${database.namespace}.fuzz.signals`;
    const dlqTopic = `${database.namespace}.fuzz.dlq`;
    const groupId = `${database.namespace}-fuzz`;
    const consumer = await createConsumerService(
      readIngestConsumerConfig({
        INGEST_DATABASE_URL: database.urls.ingest,
        INGEST_REGION: 'us',
        KAFKA_BROKERS: services.kafkaBrokers.join(','),
        INGEST_SIGNALS_TOPIC: topic,
        INGEST_SIGNALS_DLQ_TOPIC: dlqTopic,
        INGEST_CONSUMER_GROUP: groupId,
        INGEST_TOPIC_PARTITIONS: '1',
        INGEST_BACKLOG_POLL_MS: '100',
      }),
      createLogger('ingest-consumer', 'silent'),
    );
    stops.push(() => consumer.close());
    const kafka = new Kafka({ clientId: 'fuzz', brokers: services.kafkaBrokers, logLevel: logLevel.NOTHING });
    const kafkaAdmin: Admin = kafka.admin();
    await kafkaAdmin.connect();
    stops.push(() => kafkaAdmin.disconnect());
    const producer: Producer = kafka.producer();
    await producer.connect();
    stops.push(() => producer.disconnect());
    await waitUntil('the consumer to join its group', async () => consumer.consumer.isReady(), 60_000);

    const tenant = (name: string) => `${database.namespace}-${name}`;
    const operatorToken = await app.mintToken({ tenant: tenant('ops'), scopes: ['coherence:read', 'comms:operate'] });
    const { rows: quarantineTable } = await admin.query<{ exists: boolean }>(
      `SELECT to_regclass('public.outbox_quarantine') IS NOT NULL AS exists`,
    );
    const hasQuarantine = quarantineTable[0]!.exists;

    async function counts(): Promise<StoredCounts> {
      const { rows } = await admin.query<StoredCounts>(
        `SELECT (SELECT count(*)::int FROM signal_ledger) AS ledger,
                (SELECT count(*)::int FROM outbox) AS outbox,
                (SELECT count(*)::int FROM idempotency_keys) AS "idempotencyKeys",
                (SELECT count(*)::int FROM dispatch_commands) AS commands,
                (SELECT count(*)::int FROM dispatch_audit) AS "commandAudit"`,
      );
      return rows[0]!;
    }

    /**
     * Waits until the relay has projected every outbox event; a description of what is stuck otherwise.
     * An event the relay quarantined counts as stuck: every accepted signal must reach the read model.
     */
    async function projectionProblem(timeoutMs = STALL_DEADLINE_MS): Promise<string | null> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const { rows } = await admin.query<{ pending: number; quarantined: number }>(
          `SELECT (SELECT count(*)::int FROM outbox WHERE processed_at IS NULL) AS pending,
                  ${hasQuarantine ? '(SELECT count(*)::int FROM outbox_quarantine)' : '0'} AS quarantined`,
        );
        const { pending, quarantined } = rows[0]!;
        if (pending === 0 && quarantined === 0) return null;
        if (Date.now() > deadline) {
          // Every column but the envelope (the relay's retry state, its last error), then the signals.
          const { rows: oldest } = await admin.query<{ state: string; signals: string }>(
            `SELECT (to_jsonb(outbox) - 'envelope')::text AS state, left((envelope #> '{payload,signals}')::text, 600) AS signals
               FROM outbox WHERE processed_at IS NULL ORDER BY id LIMIT 1`,
          );
          const { rows: held } = hasQuarantine
            ? await admin.query<{ state: string }>(
                `SELECT (to_jsonb(q) - 'envelope')::text || ' signals ' || left((envelope #> '{payload,signals}')::text, 600) AS state
                   FROM outbox_quarantine q ORDER BY id LIMIT 1`,
              )
            : { rows: [] };
          return (
            `after ${timeoutMs} ms the relay has ${pending} outbox event(s) unprojected and ${quarantined} quarantined` +
            (oldest[0] ? `; the oldest pending: ${oldest[0].state} with signals ${oldest[0].signals}` : '') +
            (held[0] ? `; the first quarantined: ${held[0].state}` : '')
          );
        }
        await sleep(50);
      }
    }

    const postIngest = (body: string | Uint8Array, headers: Record<string, string>) =>
      httpRequest(`${app.ingestUrl}/v1/signals`, 'POST', { 'content-type': 'application/json', ...headers }, body);

    const postGateway = (body: string | Uint8Array, headers: Record<string, string>) =>
      httpRequest(`${app.gatewayUrl}/graphql`, 'POST', { 'content-type': 'application/json', ...headers }, body);

    const getGateway = (params: Record<string, string>, headers: Record<string, string>) =>
      httpRequest(`${app.gatewayUrl}/graphql?${new URLSearchParams(params)}`, 'GET', headers);

    async function readCoherence(tenantId: string) {
      const result = await postGateway(
        JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } }, variables: { tenantId } }),
        { authorization: `Bearer ${operatorToken}` },
      );
      const body = result.json as { data?: { tenantCoherence?: { score: number | null; status: string } | null } } | undefined;
      return { status: result.status, coherence: body?.data?.tenantCoherence ?? null, text: result.text };
    }

    /** Records of the signals topic the consumer has not committed yet. */
    async function kafkaLag(): Promise<number> {
      const [ends, committed] = await Promise.all([
        kafkaAdmin.fetchTopicOffsets(topic),
        kafkaAdmin.fetchOffsets({ groupId, topics: [topic] }),
      ]);
      const committedOf = (partition: number) => Number(committed[0]?.partitions.find((p) => p.partition === partition)?.offset ?? -1);
      return ends.reduce((sum, end) => sum + Number(end.high) - Math.max(committedOf(end.partition), Number(end.low)), 0);
    }

    /** The consumer's committed offset on partition 0 (the next record it will store). */
    async function committedOffset(): Promise<number> {
      const committed = await kafkaAdmin.fetchOffsets({ groupId, topics: [topic] });
      return Math.max(0, Number(committed[0]?.partitions.find((p) => p.partition === 0)?.offset ?? 0));
    }

    /** Records in the dead-letter topic. */
    async function deadLetterCount(): Promise<number> {
      const ends = await kafkaAdmin.fetchTopicOffsets(dlqTopic);
      return ends.reduce((sum, end) => sum + Number(end.high) - Number(end.low), 0);
    }

    /** A counter of the consumer's `/metrics` (0 when not yet exported). */
    async function consumerCounter(name: string): Promise<number> {
      const metrics = await consumer.admin.inject({ method: 'GET', url: '/metrics' });
      const line = metrics.body.split('\n').find((l) => l.startsWith(`${name}{transport="kafka"} `) || l.startsWith(`${name} `));
      return line ? Number(line.split(' ').at(-1)) : 0;
    }

    /**
     * Whether the score the gateway serves for `tenantId` is the weighted mean of the tenant's stored signals in
     * the window the relay computed it for (ts in (asOf − 24 h, asOf]), written out again here: the weights are
     * scaled by the largest first, so that no sum overflows whatever the producer sent; the served score is
     * rounded to 4 decimals. Null when it is.
     */
    async function scoreProblem(tenantId: string): Promise<string | null> {
      const { rows: scores } = await admin.query<{ as_of: Date }>('SELECT as_of FROM coherence_scores WHERE tenant_id = $1', [tenantId]);
      const { rows: signals } = await admin.query<{ value: number; weight: number }>(
        `SELECT l.value, l.weight FROM signal_ledger l
          WHERE l.tenant_id = $1 AND l.ts > $2::timestamptz - interval '24 hours' AND l.ts <= $2::timestamptz`,
        [tenantId, scores[0]?.as_of ?? new Date()],
      );
      const served = await readCoherence(tenantId);
      if (served.status !== 200 || served.coherence === null)
        return `the gateway did not serve ${tenantId}: ${served.status} ${served.text.slice(0, 300)}`;
      if (signals.length === 0)
        return served.coherence.score === null ? null : `no signal in the window, yet the score is ${served.coherence.score}`;
      const largest = Math.max(...signals.map((s) => s.weight));
      const scaled = signals.map((s) => ({ value: s.value, weight: s.weight / largest }));
      const expected = scaled.reduce((sum, s) => sum + s.weight * s.value, 0) / scaled.reduce((sum, s) => sum + s.weight, 0);
      const score = served.coherence.score;
      // The score is served rounded to 4 decimals (computeCoherence); summation order may differ in the last bits.
      if (score !== null && Math.abs(score - expected) <= 0.5e-4 + 1e-9) return null;
      return `served score ${score} (${served.coherence.status}); the weighted mean of the ${signals.length} stored signal(s) in the window is ${expected}`;
    }

    /**
     * The canary: one signal over HTTP and one over Kafka, each of a fresh registered tenant, pushed after a
     * run; both must be readable through the gateway with the score they imply within the deadline.
     * Returns what went wrong, or an empty list.
     */
    async function canaryProblems(): Promise<string[]> {
      const suffix = randomUUID().slice(0, 8);
      const viaHttp = tenant(`canary-http-${suffix}`);
      const viaKafka = tenant(`canary-kafka-${suffix}`);
      for (const tenantId of [viaHttp, viaKafka]) await app.registerTenant(tenantId);
      const signal = (tenantId: string, value: number) => ({
        tenantId,
        source: 'canary',
        signalId: `canary-${suffix}`,
        ts: new Date(Date.now() - 1_000).toISOString(),
        type: 'liveness',
        value,
      });
      const problems: string[] = [];
      const pushedAt = Date.now();
      const pushed = await postIngest(JSON.stringify({ signals: [signal(viaHttp, 0.625)] }), await app.writeHeaders(viaHttp));
      if (pushed.status !== 202) problems.push(`the HTTP canary got ${pushed.status} ${pushed.text.slice(0, 300)}`);
      await producer.send({ topic, acks: -1, messages: [{ key: viaKafka, value: JSON.stringify(signal(viaKafka, 0.375)) }] });
      const expected = new Map([
        [viaHttp, 0.625],
        [viaKafka, 0.375],
      ]);
      const seen = new Map<string, string>();
      const deadline = pushedAt + PROJECTION_DEADLINE_MS;
      while (expected.size > 0 && Date.now() <= deadline) {
        for (const [tenantId, score] of expected) {
          const read = await readCoherence(tenantId);
          seen.set(tenantId, `${read.status} ${read.text.slice(0, 300)}`);
          if (read.status === 200 && read.coherence !== null && Math.abs((read.coherence.score ?? -1) - score) < 1e-9) {
            expected.delete(tenantId);
          }
        }
        if (expected.size > 0) await sleep(100);
      }
      for (const [tenantId] of expected) {
        const over = tenantId === viaHttp ? 'HTTP' : 'Kafka';
        problems.push(`the ${over} canary was not readable within ${PROJECTION_DEADLINE_MS} ms; last read: ${seen.get(tenantId)}`);
      }
      if (problems.length > 0) {
        problems.push(`relay: ${(await projectionProblem(0)) ?? 'every outbox event projected'}; Kafka lag: ${await kafkaLag()}`);
      }
      return problems;
    }

    return {
      database,
      app,
      admin,
      producer,
      topic,
      tenant,
      operatorToken,
      counts,
      projectionProblem,
      postIngest,
      postGateway,
      getGateway,
      readCoherence,
      scoreProblem,
      kafkaLag,
      committedOffset,
      deadLetterCount,
      consumerCounter,
      canaryProblems,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

export async function waitUntil(what: string, condition: () => Promise<boolean>, timeoutMs: number, pollMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

/**
 * Some failures stop a stateful part of the pipeline (the relay, a Kafka
 * partition): every later case would fail too, so shrinking would end on an
 * innocent input. The guard fails the case that caused the stall, with what
 * is stuck, and skips the progress check for the cases fast-check tries
 * after it; their own checks (status, stored rows) still run. The canary
 * after the run then fails as well, as it must.
 */
export function createStallGuard() {
  let first: string | undefined;
  return {
    get stalled(): string | undefined {
      return first;
    },
    async check(what: string, problemOf: () => Promise<string | null>): Promise<void> {
      if (first !== undefined) return;
      const problem = await problemOf();
      if (problem === null) return;
      first = `${what}: ${problem}`;
      throw new Error(first);
    },
  };
}

/** A short printable form of a body for an assertion message. */
export function excerpt(text: string, max = 400): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}

/** Counts outcomes (e.g. `202`, `400 INVALID_SIGNAL`) so a run shows what it exercised; printed on stderr. */
export function createOutcomeTally(target: string) {
  const outcomes = new Map<string, number>();
  return {
    add(outcome: string, count = 1): void {
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + count);
    },
    print(): void {
      const sorted = [...outcomes].sort((a, b) => b[1] - a[1]);
      process.stderr.write(`[fuzz] ${target} outcomes: ${sorted.map(([outcome, n]) => `${outcome} ×${n}`).join(', ')}\n`);
    },
  };
}

/** What a target that stores signals (ingest HTTP, Kafka) knows once its cases have run. */
export interface StoringRun {
  harness: FuzzHarness;
  tenant: string;
  ledgerAtStart: number;
  acceptedTotal: number;
}

/** The invariants every storing target checks after its cases; call inside its `describe`, after the property. */
export function itKeepsTheRunInvariants(run: () => StoringRun): void {
  it('holds ledger rows = Σ accepted over the run', async () => {
    const { harness, ledgerAtStart, acceptedTotal } = run();
    expect((await harness.counts()).ledger - ledgerAtStart).toBe(acceptedTotal);
  });

  it('serves the fuzzed tenant the weighted mean of its stored signals (nothing overflowed)', async () => {
    const { harness, tenant } = run();
    await harness.app.registerTenant(tenant);
    expect(await harness.scoreProblem(tenant)).toBeNull();
  });

  it('projects a canary pushed after the run (HTTP and Kafka) and serves it through the gateway within 5 s', async () => {
    expect(await run().harness.canaryProblems()).toEqual([]);
  });
}
