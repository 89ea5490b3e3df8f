/**
 * The application a drill runs against: by default its own (the servers of
 * `startFaultableServices`, and every process of the application spawned as
 * a separate OS process on free ports, so a kill -9 is real), or, with
 * --attach, the running dev stack on its documented ports. Either way a
 * Prometheus scrapes it with the rules of grafana/rules/.
 */
import { ensureDevInternalKeys, ensureDevKeys, mintDevToken, type Scope } from '@coherence/auth';
import { createReceiver, type Receiver } from '@coherence/comms/testing';
import { SIGNALS_TOPIC } from '@coherence/contracts';
import {
  adminUrl,
  devStackPorts,
  devStackUnleashTokenSecrets,
  freePort,
  type ServiceEndpoints,
  type UnleashEndpoint,
} from '@coherence/devservices';
import type { ManagedProcess } from '@coherence/devservices/managedProcess';
import { startPrometheus, type RunningPrometheus } from '@coherence/devservices/prometheus';
import { defaultFlagStates } from '@coherence/flags';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ruleFiles } from '../../e2e/support/observability';
import {
  APPLICATION_DATABASE,
  APPLICATION_PROCESSES,
  devStackApplicationPorts,
  freeApplicationPorts,
  prepareApplicationDatabase,
  processDefinitions,
  repoRoot,
  startApplicationProcess,
  type ApplicationProcessName,
  type ProcessDefinition,
} from '../stack/applicationProcesses';
import { startFaultableServices } from './dependencies';
import type { DependencyControls, ProcessControls } from './scenario';

/** The region the application serves; the drill's tenants reside in it. */
export const DRILL_REGION = 'us';
/** The consumer group of ingest-consumer (its default; the drill's application and the stack keep it). */
const CONSUMER_GROUP = 'coherence-ingest';

export interface DrillApplication {
  /** True when drilling the running dev stack (--attach). */
  readonly attached: boolean;
  readonly gatewayUrl: string;
  /** HTTP ingest (POST /v1/signals). */
  readonly ingestUrl: string;
  readonly prometheusUrl: string;
  /** Each process's admin listener (/readyz, /metrics). */
  readonly adminUrls: Readonly<Record<ApplicationProcessName, string>>;
  /** Superuser URL of the application's database: reconciliation reads every tenant's rows. */
  readonly databaseUrl: string;
  readonly neo4jBoltUrl: string;
  readonly kafkaBrokers: readonly string[];
  readonly signalsTopic: string;
  readonly consumerGroup: string;
  readonly unleash: UnleashEndpoint;
  /**
   * The webhook receiver the drill's tenants' contacts point at; undefined with --attach, where the stack's comms
   * worker may not deliver to loopback (its SSRF guard), so the load sends no notifications.
   */
  readonly receiver: Receiver | undefined;
  readonly dependencies: DependencyControls;
  readonly processes: ProcessControls;
  /** A token the gateway and ingest trust (the dev key), for `tenant` with `scopes`. */
  mintToken(tenant: string, scopes: readonly Scope[]): Promise<string>;
  /** Stops what the drill started (with --attach: nothing, the stack is left as it was). */
  stop(): Promise<void>;
}

export interface StartDrillApplicationOptions {
  /** Data and logs; default a new folder under the OS's temporary one, removed by stop() unless `keep`. */
  rootDir?: string;
  keep?: boolean;
  log(line: string): void;
}

const refuse = (what: string) => async (): Promise<never> => {
  throw new Error(what);
};

/** The drill's own servers and application, and a Prometheus scraping it. */
export async function startDrillApplication(options: StartDrillApplicationOptions): Promise<DrillApplication> {
  const rootDir = options.rootDir ?? mkdtempSync(join(tmpdir(), 'coherence-drill-'));
  const logDir = join(rootDir, 'logs');
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    if (!options.keep && options.rootDir === undefined) rmSync(rootDir, { recursive: true, force: true });
  };
  try {
    options.log(`starting the servers (Postgres, Redis, Neo4j, Kafka, Unleash) under ${rootDir}…`);
    const services = await startFaultableServices({ rootDir, unleashFlags: defaultFlagStates });
    cleanups.push(() => services.stop());
    const { endpoints } = services;
    const keys = await ensureDevKeys(join(rootDir, 'keys'));
    const internalKeys = await ensureDevInternalKeys(join(rootDir, 'keys'));
    await prepareApplicationDatabase(endpoints);
    const receiver = await createReceiver(() => ({ status: 200 }));
    cleanups.push(() => receiver.close());

    const ports = await freeApplicationPorts();
    const definitions = processDefinitions({
      endpoints,
      keys,
      internalKeys,
      ports,
      region: DRILL_REGION,
      extraEnv: {
        // The drill's webhook receiver listens on loopback, which the SSRF guard refuses unless allowed.
        'comms-worker': { COMMS_SSRF_ALLOW: '127.0.0.1/32' },
        // The broker's minimum: a kill -9ed consumer's partitions go to its restarted successor after 6 s, not 30 s.
        'ingest-consumer': { INGEST_CONSUMER_SESSION_TIMEOUT_MS: '6000' },
      },
    });
    const processes = createProcessControls(definitions, logDir, options.log);
    cleanups.push(() => processes.stopAll());
    for (const name of APPLICATION_PROCESSES) await processes.start(name);
    options.log(`application up: gateway http://127.0.0.1:${ports.gateway}, ingest http://127.0.0.1:${ports.ingest} (logs: ${logDir})`);

    const prometheus = await startDrillPrometheus(rootDir, ports.admin);
    cleanups.push(() => prometheus.stop());
    return {
      attached: false,
      gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
      ingestUrl: `http://127.0.0.1:${ports.ingest}`,
      prometheusUrl: prometheus.url,
      adminUrls: adminUrlsOf(ports.admin),
      databaseUrl: adminUrl(endpoints, APPLICATION_DATABASE),
      neo4jBoltUrl: endpoints.neo4jBoltUrl,
      kafkaBrokers: endpoints.kafkaBrokers,
      signalsTopic: SIGNALS_TOPIC,
      consumerGroup: CONSUMER_GROUP,
      unleash: endpoints.unleash,
      receiver,
      dependencies: services.controls,
      processes,
      mintToken: (tenant, scopes) => mintDevToken(keys.privateKeyPath, { sub: 'drill', tenant, scopes, residency: [DRILL_REGION] }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The running dev stack (`npm run stack`) on its documented ports, its dev key
 * and Unleash tokens. Its processes are children of the stack, which stops
 * everything when one of them dies, and its servers are its own: the drill
 * can neither kill -9 nor fault them from outside (scenarios that need to are refused).
 */
export function attachToDevStack(): DrillApplication {
  const ports = devStackApplicationPorts();
  const notHere = 'not possible with --attach: the dev stack takes itself down when one of its processes dies, and its servers are its own';
  const endpoints: Pick<ServiceEndpoints, 'postgres'> = {
    postgres: { host: '127.0.0.1', port: devStackPorts.postgres, replicaPort: devStackPorts.postgresReplica, replicaRegion: 'eu' },
  };
  const stoppable = { stop: refuse(notHere), start: refuse(notHere) };
  const unleashUrl = `http://127.0.0.1:${devStackPorts.unleash}`;
  const keysDir = join(repoRoot, '.data', 'stack', 'keys');
  return {
    attached: true,
    gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
    ingestUrl: `http://127.0.0.1:${ports.ingest}`,
    prometheusUrl: 'http://127.0.0.1:9090',
    adminUrls: adminUrlsOf(ports.admin),
    databaseUrl: adminUrl(endpoints as ServiceEndpoints, APPLICATION_DATABASE),
    neo4jBoltUrl: `bolt://127.0.0.1:${devStackPorts.neo4jBolt}`,
    kafkaBrokers: [`127.0.0.1:${devStackPorts.kafka}`],
    signalsTopic: SIGNALS_TOPIC,
    consumerGroup: CONSUMER_GROUP,
    unleash: {
      url: unleashUrl,
      apiUrl: `${unleashUrl}/api/`,
      adminToken: `*:*.${devStackUnleashTokenSecrets.admin}`,
      clientToken: `default:development.${devStackUnleashTokenSecrets.client}`,
      project: 'default',
      environment: 'development',
    },
    receiver: undefined,
    dependencies: {
      redis: stoppable,
      neo4j: stoppable,
      kafka: stoppable,
      unleash: stoppable,
      postgresPrimary: { restart: refuse(notHere) },
      postgresReplica: { ...stoppable, pauseReplay: refuse(notHere), resumeReplay: refuse(notHere) },
    },
    processes: {
      names: APPLICATION_PROCESSES,
      killAndRestart: refuse(notHere),
      stop: refuse(notHere),
      start: refuse(notHere),
    },
    async mintToken(tenant, scopes) {
      // The stack's dev key pair (scripts/stack.ts, npm run token): its gateway and ingest trust tokens signed with it.
      const keys = await ensureDevKeys(keysDir);
      return mintDevToken(keys.privateKeyPath, { sub: 'drill', tenant, scopes, residency: [DRILL_REGION] });
    },
    stop: async () => undefined,
  };
}

function adminUrlsOf(admin: Record<ApplicationProcessName, number>): Record<ApplicationProcessName, string> {
  return Object.fromEntries(Object.entries(admin).map(([name, port]) => [name, `http://127.0.0.1:${port}`])) as Record<
    ApplicationProcessName,
    string
  >;
}

/** Prometheus scraping every process each second with the production rules, so alerts are seen while the drill runs. */
async function startDrillPrometheus(rootDir: string, admin: Record<ApplicationProcessName, number>): Promise<RunningPrometheus> {
  return startPrometheus({
    port: await freePort(),
    dataDir: join(rootDir, 'prometheus'),
    logFile: join(rootDir, 'logs', 'prometheus.log'),
    scrapeTargets: Object.entries(admin).map(([name, port]) => ({
      job: name,
      address: `127.0.0.1:${port}`,
      labels: { service: name },
    })),
    ruleFiles: ruleFiles(),
    externalLabels: { region: DRILL_REGION },
    scrapeIntervalSeconds: 1,
  });
}

/** The application's processes, each started, killed and restarted as a supervisor (Kubernetes) would. */
function createProcessControls(definitions: ProcessDefinition[], logDir: string, log: (line: string) => void) {
  const running = new Map<ApplicationProcessName, ManagedProcess>();
  const definitionOf = (name: ApplicationProcessName) => definitions.find((definition) => definition.name === name)!;
  const start = async (name: ApplicationProcessName) => {
    if (running.get(name)?.isRunning()) throw new Error(`${name} is already running`);
    running.set(name, await startApplicationProcess(definitionOf(name), { logDir }));
  };
  return {
    names: APPLICATION_PROCESSES,
    start,
    async killAndRestart(name: ApplicationProcessName) {
      const child = running.get(name);
      if (!child?.isRunning()) throw new Error(`${name} is not running`);
      // The whole process group, as the kernel's OOM killer or a node failure would: no shutdown hook runs.
      process.kill(-child.pid, 'SIGKILL');
      await child.exited;
      log(`${name} killed (SIGKILL); restarting it`);
      await start(name);
    },
    async stop(name: ApplicationProcessName) {
      await running.get(name)?.stop();
    },
    async stopAll() {
      for (const name of [...APPLICATION_PROCESSES].reverse()) await running.get(name)?.stop();
    },
  };
}
