/**
 * One drill, start to end, against an application already running
 * (docs/adr/0023-drills.md): steady load → warm-up → inject → hold (observe
 * midway) → heal → wait until healthy → wait until caught up → stop the load
 * → drain → reconcile. Returns the report; `npm run drill` and
 * e2e/drills.e2e.ts both call this.
 */
import { SCOPES } from '@coherence/auth';
import { createNeo4jDriver } from '@coherence/coherence';
import { createPgPool } from '@coherence/platform';
import manifest from '@coherence/persisted-queries/manifest.json' with { type: 'json' };
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { Driver } from 'neo4j-driver';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { watchMachine, type MachineReport } from '../bench/support/report';
import { watchAlerts, type AlertSeen } from './alerts';
import type { DrillApplication } from './application';
import { DEFAULT_RATES, PHASES, startLoad, type LoadRates, type Phase, type PhaseCounts, type StatusCounts } from './load';
import { reconcile, type Reconciliation } from './reconcile';
import { backlogs, isHealthy, topicEnds, waitUntil, type Backlogs } from './recovery';
import type { DrillContext, Scenario } from './scenario';

export const DEFAULT_DURATION_MS = 60_000;
const DEFAULT_WARM_UP_MS = 5_000;
/** Past these a phase is recorded as not reached, and the drill goes on to reconcile what there is. */
const HEALTHY_DEADLINE_MS = 180_000;
const CATCH_UP_DEADLINE_MS = 600_000;
// As long as catch-up may take: the load goes on while the relay catches up, and after a long outage what it wrote
// meanwhile (about 100,000 signals after kafka-outage-10m's 210 s) is drained after the load stops.
const DRAIN_DEADLINE_MS = 600_000;
/** Alerts that fired get this long after the drain to resolve (Prometheus evaluates every second here). */
const RESOLVE_DEADLINE_MS = 30_000;
/** Load kept up after catch-up, so the report shows the application serving normally again. */
const TAIL_MS = 2_000;

export interface DrillOptions {
  /** How long the fault is held; default the scenario's, else 60 s. */
  durationMs?: number;
  /** Load rates; what is not given is the scenario's default (Kafka) or DEFAULT_RATES. */
  rates?: Partial<LoadRates>;
  warmUpMs?: number;
  log(line: string): void;
}

export interface PromiseResult {
  pass: boolean;
  detail: string;
}

export interface DrillReport {
  scenario: string;
  summary: string;
  measuredAt: string;
  target: 'own application' | 'dev stack (--attach)';
  machine: MachineReport;
  heldMs: number;
  rates: LoadRates;
  /** Answers during the fault (inject → heal): gateway reads, HTTP ingest pushes, Kafka records. */
  duringFault: PhaseCounts;
  byPhase: Record<Phase, PhaseCounts>;
  fiveHundreds: { duringFault: number; total: number; allowed503WithRetryAfter: number; unavailableWithoutRetryAfter: number };
  /** What the scenario saw degrade, midway through the fault. */
  degraded: Record<string, string | number | boolean>;
  subscriptions: { tenants: number; connections: number; events: number; errors: number };
  timings: {
    injectMs: number;
    healToHealthyMs: number | null;
    healToKafkaLagZeroMs: number | null;
    healToCaughtUpMs: number | null;
    drainMs: number | null;
  };
  backlogAtHeal: Backlogs | null;
  reconciliation: Reconciliation;
  alerts: AlertSeen[];
  alertPollError: string | undefined;
  /** Every promise of the scenario, plus the ones every drill makes (fault injected and healed, recovered, 0 lost, 0 duplicated). */
  promises: Record<string, PromiseResult>;
  pass: boolean;
}

const tenantCoherenceId = manifest.operations.findLast((op) => op.name === 'TenantCoherence')!.id;
const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error));

export async function runDrill(app: DrillApplication, scenario: Scenario, options: DrillOptions): Promise<DrillReport> {
  if (app.attached && scenario.needsOwnApplication)
    throw new Error(`${scenario.name} needs the drill's own application (process control or fault proxies): run it without --attach`);
  // What watches the drill, closed however it ends.
  const admin = createPgPool(app.databaseUrl, { max: 3, onIdleError: () => undefined });
  const driver = createNeo4jDriver(app.neo4jBoltUrl);
  const kafkaAdmin = new Kafka({ clientId: 'drill-monitor', brokers: [...app.kafkaBrokers], logLevel: logLevel.NOTHING }).admin();
  const alerts = watchAlerts(app.prometheusUrl);
  try {
    await kafkaAdmin.connect();
    return await drill(app, scenario, options, { admin, driver, kafkaAdmin, alerts });
  } finally {
    await alerts.stop();
    await Promise.allSettled([admin.end(), driver.close(), kafkaAdmin.disconnect()]);
  }
}

interface Monitors {
  admin: pg.Pool;
  driver: Driver;
  kafkaAdmin: Admin;
  alerts: ReturnType<typeof watchAlerts>;
}

async function drill(app: DrillApplication, scenario: Scenario, options: DrillOptions, monitors: Monitors): Promise<DrillReport> {
  const { admin, driver, kafkaAdmin, alerts } = monitors;
  const { log } = options;
  const machine = watchMachine();
  const heldMs = options.durationMs ?? scenario.defaults?.durationMs ?? DEFAULT_DURATION_MS;
  const rates: LoadRates = {
    ...DEFAULT_RATES,
    kafka: scenario.defaults?.kafkaRecordsPerSecond ?? DEFAULT_RATES.kafka,
    ...options.rates,
  };
  const load = await startLoad(app, rates, log);
  const readToken = await app.mintToken(load.loadTenants[0]!, [SCOPES.readSelf]);
  const read = async () => {
    const response = await fetch(`${app.gatewayUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${readToken}` },
      body: JSON.stringify({
        extensions: { persistedQuery: { version: 1, sha256Hash: tenantCoherenceId } },
        variables: { tenantId: load.loadTenants[0] },
      }),
      signal: AbortSignal.timeout(5_000),
    });
    const body = (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
    return { status: response.status, code: body.errors?.[0]?.extensions?.code, data: body.data };
  };
  const context: DrillContext = {
    dependencies: app.dependencies,
    processes: app.processes,
    gatewayUrl: app.gatewayUrl,
    prometheusUrl: app.prometheusUrl,
    unleash: app.unleash,
    adminUrls: app.adminUrls,
    read,
    log,
  };

  const faults: { inject?: string; observe?: string; heal?: string } = {};
  let degraded: Record<string, string | number | boolean> = {};
  let injectMs = 0;
  let healedAt = 0;
  let healthyAt: number | null = null;
  let caughtUpAt: number | null = null;
  /** When the Kafka lag the fault left reached zero: the seed's bar is about that lag alone. */
  let kafkaLagZeroAt: number | undefined;
  let backlogAtHeal: Backlogs | null = null;
  let results;
  try {
    await sleep(options.warmUpMs ?? DEFAULT_WARM_UP_MS);
    if ((await waitUntil(() => isHealthy(app, read), HEALTHY_DEADLINE_MS, 500)) === null)
      throw new Error('the application is not healthy before the fault (a /readyz or the read is not 200)');
    log(`warm-up done; injecting ${scenario.name}`);
    load.setPhase('fault');
    alerts.injected();
    const injectedAt = Date.now();
    try {
      await scenario.inject(context);
    } catch (error) {
      faults.inject = errorMessage(error);
      log(`inject failed: ${faults.inject}`);
    }
    injectMs = Date.now() - injectedAt;
    const holdUntil = Date.now() + heldMs;
    log(`fault injected in ${injectMs} ms; holding ${heldMs} ms`);
    await sleep(heldMs / 2);
    try {
      degraded = (await scenario.observe?.(context)) ?? {};
    } catch (error) {
      faults.observe = errorMessage(error);
    }
    await sleep(Math.max(0, holdUntil - Date.now()));
    try {
      await scenario.heal(context);
    } catch (error) {
      faults.heal = errorMessage(error);
      log(`heal failed: ${faults.heal}`);
    }
    healedAt = Date.now();
    load.setPhase('recovery');
    log('healed; waiting until healthy and caught up');
    backlogAtHeal = await backlogs(app, admin, kafkaAdmin).catch(() => null);
    healthyAt = await waitUntil(() => isHealthy(app, read), HEALTHY_DEADLINE_MS, 200);
    // The backlog the fault left: what was there at heal time (the topic's ends once Kafka answers again).
    const ends = await topicEnds(kafkaAdmin, app.signalsTopic).catch(() => undefined);
    const mark = { at: new Date(healedAt), ends: ends ?? new Map<number, number>() };
    caughtUpAt = await waitUntil(
      async () => {
        const left = await backlogs(app, admin, kafkaAdmin, mark);
        if (left.kafka === 0 && kafkaLagZeroAt === undefined) {
          // What Kafka held at heal is in the outbox now, written after the heal: caught up means projected too.
          kafkaLagZeroAt = Date.now();
          mark.at = new Date(kafkaLagZeroAt);
          return false;
        }
        return left.outbox === 0 && left.kafka === 0 && left.comms === 0;
      },
      CATCH_UP_DEADLINE_MS,
      500,
    );
    log(
      `healthy ${healthyAt === null ? 'NOT within the deadline' : `after ${healthyAt - healedAt} ms`}, ` +
        `caught up ${caughtUpAt === null ? 'NOT within the deadline' : `after ${caughtUpAt - healedAt} ms`}`,
    );
    await sleep(TAIL_MS);
  } finally {
    results = await load.stop();
  }

  // With the load stopped, everything acknowledged must come through: every backlog to zero, every notification final.
  const drainStartedAt = Date.now();
  const drainedAt = await waitUntil(
    async () => {
      const left = await backlogs(app, admin, kafkaAdmin);
      if (left.outbox + left.kafka + left.comms > 0) return false;
      const { rows } = await admin.query<{ n: number }>(
        `SELECT count(DISTINCT tenant_id)::int AS n FROM dispatch_commands WHERE tenant_id = ANY($1) AND state = 'succeeded'`,
        [results.notifyingTenants],
      );
      return rows[0]!.n === results.notifyingTenants.length;
    },
    DRAIN_DEADLINE_MS,
    500,
  );
  await waitUntil(async () => alerts.stillFiring().length === 0, RESOLVE_DEADLINE_MS, 1_000);
  const reconciliation = await reconcile({
    admin,
    driver,
    tenantPrefix: load.tenantPrefix,
    acknowledged: results.acknowledged,
    acknowledgedBy: results.acknowledgedBy,
    notifyingTenants: results.notifyingTenants,
    receiver: app.receiver,
  });
  const { alerts: alertsSeen, pollError } = await alerts.stop();

  const fiveHundreds = countFiveHundreds(results.byPhase, results.unavailableWithoutRetryAfter, scenario.promises.allow503 === true);
  const healToHealthyMs = healthyAt === null ? null : healthyAt - healedAt;
  const healToCaughtUpMs = caughtUpAt === null ? null : caughtUpAt - healedAt;
  const healToKafkaLagZeroMs = kafkaLagZeroAt === undefined ? null : kafkaLagZeroAt - healedAt;
  const promises: Record<string, PromiseResult> = {
    'fault injected, held and healed': {
      pass: Object.keys(faults).length === 0,
      detail: Object.keys(faults).length === 0 ? 'yes' : JSON.stringify(faults),
    },
    'healthy again': {
      pass: healthyAt !== null,
      detail: healToHealthyMs === null ? 'not within 180 s' : `${healToHealthyMs} ms after heal`,
    },
    'caught up': {
      pass: caughtUpAt !== null,
      detail: healToCaughtUpMs === null ? 'not within 600 s' : `${healToCaughtUpMs} ms after heal`,
    },
    'drained after the load stopped': {
      pass: drainedAt !== null,
      detail: drainedAt === null ? `not within ${DRAIN_DEADLINE_MS / 1_000} s` : `${drainedAt - drainStartedAt} ms`,
    },
    '0 lost': { pass: reconciliation.lost === 0, detail: `${reconciliation.lost} of ${reconciliation.acknowledged.total} acknowledged` },
    '0 duplicated': { pass: reconciliation.duplicated === 0, detail: `${reconciliation.duplicated}` },
  };
  if (scenario.promises.no5xx)
    promises[scenario.promises.allow503 ? 'no 5xx (503 with Retry-After allowed)' : 'no 5xx'] = {
      pass: fiveHundreds.total === 0,
      detail: `${fiveHundreds.total} (${fiveHundreds.allowed503WithRetryAfter} allowed 503s with Retry-After)`,
    };
  if (scenario.promises.httpIngestUnaffected) {
    const { ingest } = results.byPhase.fault;
    const other = Object.entries(ingest).filter(([status]) => status !== '202');
    promises['HTTP ingest unaffected'] = { pass: other.length === 0, detail: JSON.stringify(ingest) };
  }
  if (scenario.promises.maxCatchUpMs !== undefined)
    promises[`caught up within ${scenario.promises.maxCatchUpMs} ms`] = {
      pass: healToCaughtUpMs !== null && healToCaughtUpMs <= scenario.promises.maxCatchUpMs,
      detail: `${healToCaughtUpMs ?? 'never'}`,
    };
  if (scenario.promises.maxKafkaLagZeroMs !== undefined)
    promises[`Kafka consumer lag 0 within ${scenario.promises.maxKafkaLagZeroMs} ms`] = {
      pass: healToKafkaLagZeroMs !== null && healToKafkaLagZeroMs <= scenario.promises.maxKafkaLagZeroMs,
      detail: `${healToKafkaLagZeroMs ?? 'never'}`,
    };
  if (scenario.promises.maxTimeToHealthyMs !== undefined)
    promises[`healthy within ${scenario.promises.maxTimeToHealthyMs} ms`] = {
      pass: healToHealthyMs !== null && healToHealthyMs <= scenario.promises.maxTimeToHealthyMs,
      detail: `${healToHealthyMs ?? 'never'}`,
    };

  return {
    scenario: scenario.name,
    summary: scenario.summary,
    measuredAt: new Date().toISOString(),
    target: app.attached ? 'dev stack (--attach)' : 'own application',
    machine: machine.report(),
    heldMs,
    rates,
    duringFault: results.byPhase.fault,
    byPhase: results.byPhase,
    fiveHundreds,
    degraded,
    subscriptions: results.subscriptions,
    timings: {
      injectMs,
      healToHealthyMs,
      healToKafkaLagZeroMs,
      healToCaughtUpMs,
      drainMs: drainedAt === null ? null : drainedAt - drainStartedAt,
    },
    backlogAtHeal,
    reconciliation,
    alerts: alertsSeen,
    alertPollError: pollError,
    promises,
    pass: Object.values(promises).every((promise) => promise.pass),
  };
}

/** 5xx answers of the gateway and HTTP ingest; 503s with Retry-After are counted apart when the scenario allows them. */
function countFiveHundreds(byPhase: Record<Phase, PhaseCounts>, unavailableWithoutRetryAfter: number, allow503: boolean) {
  const fiveXx = (counts: StatusCounts, only503 = false) =>
    Object.entries(counts)
      .filter(([status]) => (only503 ? status.startsWith('503') : status.startsWith('5')))
      .reduce((total, [, n]) => total + n, 0);
  const of = (phase: Phase, only503 = false) => fiveXx(byPhase[phase].gateway, only503) + fiveXx(byPhase[phase].ingest, only503);
  const all = PHASES.reduce((total, phase) => total + of(phase), 0);
  const all503 = PHASES.reduce((total, phase) => total + of(phase, true), 0);
  const allowed503WithRetryAfter = allow503 ? all503 - unavailableWithoutRetryAfter : 0;
  return {
    duringFault: of('fault'),
    total: all - allowed503WithRetryAfter,
    allowed503WithRetryAfter,
    unavailableWithoutRetryAfter,
  };
}
