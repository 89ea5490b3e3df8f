import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './freePort';
import { startRestartable, type Restartable } from './restartable';
import { startKafka, type RunningKafka } from './services/kafka';
import { startNeo4j, type RunningNeo4j } from './services/neo4j';
import { startPostgres, startPostgresReplica, type RunningPostgres } from './services/postgres';
import { startRedis, type RunningRedis } from './services/redis';
import { startUnleash, type RunningUnleash } from './services/unleash';
import type { UnleashEndpoint } from './services/unleashAdmin';

/** Where the servers listen; plain data so it can cross from Vitest's global setup to test files. */
export interface ServiceEndpoints {
  postgres: { host: string; port: number; replicaPort: number; replicaRegion: string };
  redisUrl: string;
  neo4jBoltUrl: string;
  kafkaBrokers: string[];
  /** The Unleash server (its own database on the primary), its tokens, and where flags live. */
  unleash: UnleashEndpoint;
}

export interface ServicePorts {
  postgres: number;
  postgresReplica: number;
  redis: number;
  neo4jBolt: number;
  kafka: number;
  kafkaController: number;
  unleash: number;
}

/** The dev stack's documented ports (README, "Ports"). */
export const devStackPorts: ServicePorts = {
  postgres: 5432,
  postgresReplica: 5433,
  redis: 6379,
  neo4jBolt: 7687,
  kafka: 9092,
  kafkaController: 9093,
  unleash: 4242,
};

export interface StartServicesOptions {
  /** Data dirs and logs go under here. */
  rootDir: string;
  /**
   * Where the PostgreSQL data dirs (primary, replica) and sockets go instead;
   * default `rootDir`. The `postgres` OS user runs the servers, so it must be
   * able to enter every folder above it (a clone in a 0700 home cannot).
   */
  postgresDir?: string;
  /** Fixed ports (dev stack) or free ones picked now (tests, the default). */
  ports?: ServicePorts;
  /** Throw-away durability settings (tests); see startPostgres. Default true. */
  fast?: boolean;
  /** Region tag of the read replica (docs/architecture.md, "Read path"). Default 'eu'. */
  replicaRegion?: string;
  /**
   * Flags created on the Unleash server when missing, with their state:
   * `defaultFlagStates` of @coherence/flags, passed in by the caller so the
   * server kit depends on no package of the application.
   */
  unleashFlags: Readonly<Record<string, boolean>>;
  /** Fixed API token secrets (dev stack, whose Unleash keeps its tokens across restarts); default: random per start. */
  unleashTokenSecrets?: { admin: string; client: string };
}

/** Each server, to stop and start again on its port and data (the dependency drills, docs/adr/0024-dependency-fault-drills.md). */
export interface RestartableServices {
  postgres: Restartable<RunningPostgres>;
  /** Follows the primary's current start (its walreceiver reconnects after a primary restart by itself). */
  postgresReplica: Restartable<RunningPostgres>;
  /** Holds no data: a started-again Redis is empty, as a cache may be. */
  redis: Restartable<RunningRedis>;
  neo4j: Restartable<RunningNeo4j>;
  kafka: Restartable<RunningKafka>;
  /** Keeps its API tokens across starts (they are fixed for the run), so clients started against it go on working. */
  unleash: Restartable<RunningUnleash>;
}

export interface RunningServices {
  endpoints: ServiceEndpoints;
  logDir: string;
  services: RestartableServices;
  /** Stops everything that was started, in reverse order; safe to call twice. */
  stop(): Promise<void>;
}

async function pickFreePorts(): Promise<ServicePorts> {
  const [postgres, postgresReplica, redis, neo4jBolt, kafka, kafkaController, unleash] = await Promise.all(
    Array.from({ length: 7 }, () => freePort()),
  );
  return {
    postgres: postgres!,
    postgresReplica: postgresReplica!,
    redis: redis!,
    neo4jBolt: neo4jBolt!,
    kafka: kafka!,
    kafkaController: kafkaController!,
    unleash: unleash!,
  };
}

/**
 * Starts PostgreSQL (primary + streaming replica), Redis, Neo4j, Kafka and
 * Unleash (on the primary) on loopback. The JVMs start alongside the native servers since they take the
 * longest. If any fails, the ones already up are stopped before rethrowing.
 */
export async function startServices(options: StartServicesOptions): Promise<RunningServices> {
  const ports = options.ports ?? (await pickFreePorts());
  const fast = options.fast ?? true;
  const logDir = join(options.rootDir, 'logs');
  const postgresDir = options.postgresDir ?? options.rootDir;
  mkdirSync(logDir, { recursive: true });
  mkdirSync(postgresDir, { recursive: true });
  // PostgreSQL runs as the `postgres` OS user, which must be able to enter
  // its folder (mkdtemp makes one 0700).
  chmodSync(postgresDir, 0o755);
  const started: { stop(): Promise<void> }[] = [];
  const track = <T extends { stop(): Promise<void> }>(service: T): T => {
    started.push(service);
    return service;
  };
  const stop = async () => {
    const toStop = started.splice(0).reverse();
    await Promise.allSettled(toStop.map((s) => s.stop()));
  };

  try {
    const postgresChain = (async () => {
      const primary = track(
        await startRestartable(() =>
          startPostgres({ port: ports.postgres, dataDir: join(postgresDir, 'postgres'), logFile: join(logDir, 'postgres.log'), fast }),
        ),
      );
      const replica = track(
        await startRestartable(() => {
          if (!primary.current) throw new Error('the Postgres replica cannot start while its primary is stopped');
          return startPostgresReplica(primary.current, {
            port: ports.postgresReplica,
            dataDir: join(postgresDir, 'postgres-replica'),
            logFile: join(logDir, 'postgres-replica.log'),
            fast,
          });
        }),
      );
      return { primary, replica };
    })();
    // Unleash needs only the primary; its migrations run while the JVMs start.
    // Fixed for the run, so an Unleash started again accepts the tokens its clients already hold.
    const tokenSecrets = options.unleashTokenSecrets ?? { admin: randomBytes(16).toString('hex'), client: randomBytes(16).toString('hex') };
    const unleashChain = postgresChain.then(({ primary }) =>
      startRestartable(() =>
        startUnleash({
          port: ports.unleash,
          postgres: primary.current!,
          logFile: join(logDir, 'unleash.log'),
          flags: options.unleashFlags,
          tokenSecrets,
        }),
      ).then(track),
    );
    // allSettled, not all: a failure must not leave a slower server to finish
    // starting after we have already stopped the others.
    const results = await Promise.allSettled([
      postgresChain,
      startRestartable(() => startRedis({ port: ports.redis, logFile: join(logDir, 'redis.log') })).then(track),
      startRestartable(() =>
        startNeo4j({ boltPort: ports.neo4jBolt, dataDir: join(options.rootDir, 'neo4j'), logFile: join(logDir, 'neo4j.log') }),
      ).then(track),
      startRestartable(() =>
        startKafka({
          port: ports.kafka,
          controllerPort: ports.kafkaController,
          dataDir: join(options.rootDir, 'kafka'),
          logFile: join(logDir, 'kafka.log'),
        }),
      ).then(track),
      unleashChain,
    ] as const);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [postgres, redisService, neo4jService, kafkaService, unleashService] = results.map(
      (r) => (r as PromiseFulfilledResult<unknown>).value,
    ) as [
      { primary: Restartable<RunningPostgres>; replica: Restartable<RunningPostgres> },
      Restartable<RunningRedis>,
      Restartable<RunningNeo4j>,
      Restartable<RunningKafka>,
      Restartable<RunningUnleash>,
    ];
    const primary = postgres.primary.current!;
    const redis = redisService.current!;
    const neo4j = neo4jService.current!;
    const kafka = kafkaService.current!;
    const unleash = unleashService.current!;
    return {
      endpoints: {
        postgres: {
          host: primary.host,
          port: primary.port,
          replicaPort: ports.postgresReplica,
          replicaRegion: options.replicaRegion ?? 'eu',
        },
        redisUrl: redis.url,
        neo4jBoltUrl: neo4j.boltUrl,
        kafkaBrokers: kafka.brokers,
        unleash: {
          url: unleash.url,
          apiUrl: unleash.apiUrl,
          adminToken: unleash.adminToken,
          clientToken: unleash.clientToken,
          project: unleash.project,
          environment: unleash.environment,
        },
      },
      logDir,
      services: {
        postgres: postgres.primary,
        postgresReplica: postgres.replica,
        redis: redisService,
        neo4j: neo4jService,
        kafka: kafkaService,
        unleash: unleashService,
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export type { RunningPostgres };
