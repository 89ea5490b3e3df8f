/**
 * The steady mixed load a drill keeps up before, during and after the fault
 * (docs/runbooks/drills.md): HTTP signal pushes to ingest, Kafka records to
 * the ingest topic, persisted reads through the gateway, one subscription per
 * tenant, and notifications (a new tenant whose first score is CRITICAL, so
 * comms notifies its webhook contact once). Every answer is counted by phase;
 * every signal acknowledged (202, or a Kafka send resolved with acks=all) is
 * remembered for the reconciliation.
 */
import { SCOPES } from '@coherence/auth';
import { createPgPool } from '@coherence/platform';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { createClient, type Client } from 'graphql-ws';
import { Kafka, logLevel } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import type { DrillApplication } from './application';

export const PHASES = ['warm-up', 'fault', 'recovery'] as const;
export type Phase = (typeof PHASES)[number];

/** Per second: HTTP push requests (of SIGNALS_PER_PUSH signals each), Kafka records, persisted reads, new notifying tenants. */
export interface LoadRates {
  http: number;
  kafka: number;
  reads: number;
  notifications: number;
}

export const DEFAULT_RATES: LoadRates = { http: 10, kafka: 50, reads: 10, notifications: 0.5 };
export const SIGNALS_PER_PUSH = 5;
/** Tenants the pushes, records, reads and subscriptions go to (notifications make tenants of their own). */
const LOAD_TENANTS = 4;
/** Requests (or Kafka sends) of one kind in flight at most; past it a tick is skipped and counted, so a hung dependency cannot pile up sockets. */
const MAX_IN_FLIGHT = 64;
const REQUEST_TIMEOUT_MS = 10_000;
const TICK_MS = 100;

/** Answers by status ("202", "503", "error:ECONNREFUSED", "skipped"), per phase. */
export type StatusCounts = Record<string, number>;

export interface PhaseCounts {
  ingest: StatusCounts;
  gateway: StatusCounts;
  kafka: StatusCounts;
}

export interface LoadResults {
  byPhase: Record<Phase, PhaseCounts>;
  /** 503 answers without a Retry-After header (a promise of `allow503` scenarios). */
  unavailableWithoutRetryAfter: number;
  /** Acknowledged signal ids, each with its tenant. */
  acknowledged: Map<string, string>;
  acknowledgedBy: { http: number; kafka: number };
  /** Tenants whose alerting first signal was acknowledged: each must get exactly one notification command, delivered. */
  notifyingTenants: string[];
  subscriptions: { tenants: number; connections: number; events: number; errors: number };
}

export interface RunningLoad {
  /** Every tenant of this run (load and notifying) starts with it: reconciliation looks at theirs only. */
  readonly tenantPrefix: string;
  readonly loadTenants: readonly string[];
  setPhase(phase: Phase): void;
  /** Stops sending, waits for what is in flight, closes the subscriptions. */
  stop(): Promise<LoadResults>;
}

const operationId = (name: string) => manifest.operations.findLast((op) => op.name === name)!.id;

/** What a failed request is counted as: the error's code (ECONNREFUSED, ECONNRESET…) or its name. */
function errorKey(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  if (cause?.code) return `error:${cause.code}`;
  return `error:${error instanceof Error ? error.name : 'unknown'}`;
}

const bump = (counts: StatusCounts, key: string, by = 1) => (counts[key] = (counts[key] ?? 0) + by);

/** Calls `fire(n)` every tick with the units due at `ratePerSecond`, unless MAX_IN_FLIGHT calls are still running. */
function pace(ratePerSecond: number, fire: (units: number) => Promise<void>, onSkip: (units: number) => void) {
  let due = 0;
  let inFlight = 0;
  const pending = new Set<Promise<void>>();
  const timer = setInterval(() => {
    due += (ratePerSecond * TICK_MS) / 1_000;
    const units = Math.floor(due);
    if (units === 0) return;
    due -= units;
    if (inFlight >= MAX_IN_FLIGHT) return onSkip(units);
    inFlight += 1;
    const call = fire(units).finally(() => {
      inFlight -= 1;
      pending.delete(call);
    });
    pending.add(call);
  }, TICK_MS);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.allSettled([...pending]);
    },
  };
}

export async function startLoad(app: DrillApplication, rates: LoadRates, log: (line: string) => void): Promise<RunningLoad> {
  const runId = `drill${Date.now().toString(36)}`;
  const tenantPrefix = `${runId}-`;
  const loadTenants = Array.from({ length: LOAD_TENANTS }, (_, i) => `${tenantPrefix}t${i}`);
  const admin = createPgPool(app.databaseUrl, { max: 2, onIdleError: () => undefined });
  await admin.query('INSERT INTO tenants (tenant_id, residency) SELECT unnest($1::text[]), $2', [loadTenants, 'us']);
  const writeTokens = new Map(await Promise.all(loadTenants.map(async (t) => [t, await app.mintToken(t, [SCOPES.writeSelf])] as const)));
  const readTokens = new Map(await Promise.all(loadTenants.map(async (t) => [t, await app.mintToken(t, [SCOPES.readSelf])] as const)));

  let phase: Phase = 'warm-up';
  const empty = (): PhaseCounts => ({ ingest: {}, gateway: {}, kafka: {} });
  const byPhase = { 'warm-up': empty(), fault: empty(), recovery: empty() } as Record<Phase, PhaseCounts>;
  const acknowledged = new Map<string, string>();
  const acknowledgedBy = { http: 0, kafka: 0 };
  const notifyingTenants: string[] = [];
  let unavailableWithoutRetryAfter = 0;
  let sequence = 0;
  const signalOf = (tenantId: string, transport: 'h' | 'k' | 'n', value: number) => ({
    tenantId,
    source: `drill-${transport}`,
    signalId: `${runId}-${transport}${(sequence += 1)}`,
    // A second in the past: within any window, never ahead of ingest's clock.
    ts: new Date(Date.now() - 1_000).toISOString(),
    type: 'health',
    value,
    weight: 1,
  });
  const tenantAt = (n: number) => loadTenants[n % loadTenants.length]!;

  /** One push; on 202 its signals are acknowledged. Returns the status key. */
  const push = async (tenantId: string, token: string, signals: ReturnType<typeof signalOf>[]): Promise<string> => {
    const counts = byPhase[phase].ingest;
    try {
      const response = await fetch(`${app.ingestUrl}/v1/signals`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ signals }),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      bump(counts, String(response.status));
      if (response.status === 503 && !response.headers.has('retry-after')) unavailableWithoutRetryAfter += 1;
      if (response.status === 202) for (const signal of signals) acknowledged.set(signal.signalId, tenantId);
      return String(response.status);
    } catch (error) {
      bump(counts, errorKey(error));
      return errorKey(error);
    }
  };

  let pushes = 0;
  const http = pace(
    rates.http,
    async (units) => {
      await Promise.all(
        Array.from({ length: units }, async () => {
          const tenantId = tenantAt((pushes += 1));
          const signals = Array.from({ length: SIGNALS_PER_PUSH }, () => signalOf(tenantId, 'h', 0.8 + Math.random() * 0.2));
          if ((await push(tenantId, writeTokens.get(tenantId)!, signals)) === '202') acknowledgedBy.http += signals.length;
        }),
      );
    },
    (units) => bump(byPhase[phase].ingest, 'skipped', units),
  );

  const kafka = new Kafka({ clientId: 'drill', brokers: [...app.kafkaBrokers], logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  let records = 0;
  const kafkaLoad = pace(
    rates.kafka,
    async (units) => {
      const signals = Array.from({ length: units }, () => signalOf(tenantAt((records += 1)), 'k', 0.8 + Math.random() * 0.2));
      const counts = byPhase[phase].kafka;
      try {
        await producer.send({
          topic: app.signalsTopic,
          acks: -1,
          timeout: REQUEST_TIMEOUT_MS,
          messages: signals.map((signal) => ({ key: signal.tenantId, value: JSON.stringify(signal) })),
        });
        bump(counts, 'acknowledged', units);
        acknowledgedBy.kafka += units;
        for (const signal of signals) acknowledged.set(signal.signalId, signal.tenantId);
      } catch (error) {
        bump(counts, errorKey(error), units);
      }
    },
    (units) => bump(byPhase[phase].kafka, 'skipped', units),
  );

  let reads = 0;
  const readLoad = pace(
    rates.reads,
    async (units) => {
      await Promise.all(
        Array.from({ length: units }, async () => {
          const tenantId = tenantAt((reads += 1));
          const counts = byPhase[phase].gateway;
          try {
            const response = await fetch(`${app.gatewayUrl}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${readTokens.get(tenantId)}` },
              body: JSON.stringify({
                extensions: { persistedQuery: { version: 1, sha256Hash: operationId('TenantCoherence') } },
                variables: { tenantId },
              }),
              signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
            });
            const body = (await response.json().catch(() => ({}))) as { errors?: { extensions?: { code?: string } }[] };
            const code = body.errors?.[0]?.extensions?.code;
            bump(counts, code ? `${response.status} ${code}` : String(response.status));
            if (response.status === 503 && !response.headers.has('retry-after')) unavailableWithoutRetryAfter += 1;
          } catch (error) {
            bump(counts, errorKey(error));
          }
        }),
      );
    },
    (units) => bump(byPhase[phase].gateway, 'skipped', units),
  );

  // A new tenant with a webhook contact and one signal at 0: its first score is CRITICAL, which comms notifies once.
  let notifying = 0;
  const notifications = app.receiver
    ? pace(
        rates.notifications,
        async () => {
          const tenantId = `${tenantPrefix}n${(notifying += 1)}`;
          try {
            await admin.query('INSERT INTO tenants (tenant_id, residency) VALUES ($1, $2)', [tenantId, 'us']);
            await admin.query(`INSERT INTO comms_contacts (tenant_id, contact_id, channel, url) VALUES ($1, 'drill', 'webhook', $2)`, [
              tenantId,
              app.receiver!.url(`/${tenantId}`),
            ]);
          } catch (error) {
            bump(byPhase[phase].ingest, `notifying tenant not registered: ${errorKey(error)}`);
            return;
          }
          const token = await app.mintToken(tenantId, [SCOPES.writeSelf]);
          if ((await push(tenantId, token, [signalOf(tenantId, 'n', 0)])) === '202') notifyingTenants.push(tenantId);
        },
        () => undefined,
      )
    : undefined;

  const subscriptions = { tenants: loadTenants.length, connections: 0, events: 0, errors: 0 };
  const clients: Client[] = [];
  let stopped = false;
  for (const tenantId of loadTenants) {
    const client = createClient({
      url: `${app.gatewayUrl.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${readTokens.get(tenantId)}` },
      // Reconnect for as long as the drill runs, every half second: a restarted gateway is found within a second.
      retryAttempts: Number.MAX_SAFE_INTEGER,
      shouldRetry: () => !stopped,
      retryWait: () => sleep(500),
      on: { connected: () => (subscriptions.connections += 1) },
    });
    clients.push(client);
    void (async () => {
      // A subscription the gateway ends with an error (the kill switch) is subscribed again while the drill runs.
      while (!stopped) {
        try {
          for await (const _event of client.iterate({
            query: '',
            extensions: { persistedQuery: { version: 1, sha256Hash: operationId('CoherenceEvents') } },
            variables: { tenantId },
          }))
            subscriptions.events += 1;
        } catch {
          subscriptions.errors += 1;
        }
        if (!stopped) await sleep(1_000);
      }
    })();
  }
  log(
    `load: ${rates.http} pushes/s × ${SIGNALS_PER_PUSH} signals, ${rates.kafka} Kafka records/s, ${rates.reads} reads/s, ` +
      `${loadTenants.length} subscriptions, ${app.receiver ? `${rates.notifications} notifying tenants/s` : 'no notifications (--attach)'}`,
  );

  return {
    tenantPrefix,
    loadTenants,
    setPhase(next) {
      phase = next;
    },
    async stop() {
      await Promise.all([http.stop(), kafkaLoad.stop(), readLoad.stop(), notifications?.stop()]);
      stopped = true;
      await Promise.all(clients.map((client) => client.dispose()));
      await producer.disconnect();
      await admin.end();
      return { byPhase, unavailableWithoutRetryAfter, acknowledged, acknowledgedBy, notifyingTenants, subscriptions };
    },
  };
}
