/**
 * The contract between `npm run drill` (the runner: application, load,
 * reconciliation, report) and each fault scenario (scripts/drills/scenarios/).
 * A scenario only injects, holds, observes and heals; the runner drives the
 * steady load before, during and after, waits for recovery and proves nothing
 * acknowledged was lost or duplicated (docs/runbooks/drills.md).
 */

import type { UnleashEndpoint } from '@coherence/devservices';

/** A dependency the drill can take away and give back. */
export interface Stoppable {
  /** Stops it (for a server: the process is gone, its port refuses connections). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data; resolves once it answers. */
  start(): Promise<void>;
}

/** The servers the application depends on, as the drill can fault them. */
export interface DependencyControls {
  redis: Stoppable;
  neo4j: Stoppable;
  /** The Kafka broker. */
  kafka: Stoppable;
  unleash: Stoppable;
  postgresPrimary: {
    /** `pg_ctl restart -m fast` under load: connections are cut, acknowledged (committed) writes survive. */
    restart(): Promise<void>;
  };
  postgresReplica: Stoppable & {
    /** `pg_wal_replay_pause()`: the replica answers but falls behind the primary. */
    pauseReplay(): Promise<void>;
    resumeReplay(): Promise<void>;
  };
  /**
   * Added latency on the application's connections to a dependency, through the loopback fault proxy the
   * application is started behind; 0 removes it. Only when the drill started the application (not --attach).
   */
  latency?: { set(target: 'postgres' | 'neo4j' | 'redis', ms: number): void };
}

/** The application's processes, each of which the drill can kill -9 and restart as a supervisor would. */
export type ApplicationProcess = 'gateway' | 'ingest' | 'ingest-consumer' | 'relay' | 'coherence' | 'comms' | 'comms-worker';

export interface ProcessControls {
  readonly names: readonly ApplicationProcess[];
  /** SIGKILL, then start it again with the same environment; resolves once its /readyz answers 200. */
  killAndRestart(name: ApplicationProcess): Promise<void>;
  /** SIGTERM (graceful), for outages longer than a crash: the Kafka consumer group stopped for ten minutes. */
  stop(name: ApplicationProcess): Promise<void>;
  /** Starts a stopped process again; resolves once its /readyz answers 200. */
  start(name: ApplicationProcess): Promise<void>;
}

export interface DrillContext {
  dependencies: DependencyControls;
  processes: ProcessControls;
  /** The gateway's public URL (persisted reads, subscriptions). */
  gatewayUrl: string;
  /** Prometheus's URL, scraping the application with grafana/rules/ loaded. */
  prometheusUrl: string;
  /** The Unleash server the application's flags come from, with an admin token (the kill switch). */
  unleash?: UnleashEndpoint;
  /** One persisted TenantCoherence read of a drill tenant through the gateway, as a client sees it (status, first error code). */
  read?(): Promise<{ status: number; code: string | undefined; data: unknown }>;
  /**
   * Each running process's admin listener (`http://host:port`, serving /metrics), where the runner knows it:
   * a scenario's observe() reads the metrics there at once instead of waiting for Prometheus's next scrape.
   */
  adminUrls?: Partial<Record<ApplicationProcess, string>>;
  /** Progress for the operator, one line each. */
  log(line: string): void;
}

/** What a scenario promises; the runner asserts each at the end and the report shows it. */
export interface ScenarioPromises {
  /** No 5xx from the gateway or HTTP ingest at any time (503 with Retry-After is allowed where `allow503` is set). */
  no5xx: boolean;
  /** 503 with a Retry-After header is an acceptable answer during the fault (Postgres primary restart). */
  allow503?: boolean;
  /** HTTP ingest keeps answering 202 through the fault (Kafka faults). */
  httpIngestUnaffected?: boolean;
  /** Catch-up (every backlog back to zero: Kafka lag, the outbox into the graph, the comms queue) within this many ms after heal. */
  maxCatchUpMs?: number;
  /** The Kafka consumer group's lag (records the fault left) back to zero within this many ms after heal. */
  maxKafkaLagZeroMs?: number;
  /** Healthy again (every /readyz 200, reads 200) within this many ms after heal (the kill switch's time to recover). */
  maxTimeToHealthyMs?: number;
}

export interface Scenario {
  /** The name on the command line, e.g. `redis-down`. */
  readonly name: string;
  /** One line for `npm run drill -- --help`. */
  readonly summary: string;
  readonly promises: ScenarioPromises;
  /** Defaults this scenario runs with unless the command line says otherwise (kafka-outage-10m: 10 minutes). */
  readonly defaults?: { durationMs?: number; kafkaRecordsPerSecond?: number };
  /** True when the scenario needs the drill's own application (fault proxies, process control): refused with --attach. */
  readonly needsOwnApplication?: boolean;
  inject(context: DrillContext): Promise<void>;
  /**
   * Called once the fault has held for a while: what degraded and how, for the report ("reads served uncached",
   * "EU reads on the primary"), from metrics or probes. Keys are short labels, values what was seen.
   */
  observe?(context: DrillContext): Promise<Record<string, string | number | boolean>>;
  heal(context: DrillContext): Promise<void>;
}
