/**
 * The servers a drill faults (docs/adr/0024-dependency-fault-drills.md): the
 * dev services kit's Postgres primary and replica, Redis, Neo4j, Kafka and
 * Unleash, each restartable on its port and data, with a loopback fault proxy
 * in front of Postgres (both), Neo4j and Redis. `endpoints` name the proxies
 * for those four, so the application started on them connects through the
 * proxies and `controls.latency` slows its connections, while the replica's
 * replication stream and Unleash's own database connection go direct.
 */
import { startFaultProxy, startServices, type FaultProxy, type ServiceEndpoints } from '@coherence/devservices';
import pg from 'pg';
import type { DependencyControls, Stoppable } from './scenario';

export interface FaultableServices {
  /** What the application connects to: the proxies for Postgres, Neo4j and Redis, Kafka and Unleash direct. */
  endpoints: ServiceEndpoints;
  controls: DependencyControls;
  /** Stops the proxies and every server (whichever is running). */
  stop(): Promise<void>;
}

export async function startFaultableServices(options: {
  rootDir: string;
  unleashFlags: Readonly<Record<string, boolean>>;
}): Promise<FaultableServices> {
  const running = await startServices({ rootDir: options.rootDir, unleashFlags: options.unleashFlags });
  const { endpoints, services } = running;
  const proxies: FaultProxy[] = [];
  const proxyTo = async (port: number) => {
    const proxy = await startFaultProxy({ target: { host: endpoints.postgres.host, port } });
    proxies.push(proxy);
    return proxy;
  };
  const stop = async () => {
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
    await running.stop();
  };
  try {
    const postgresPrimary = await proxyTo(endpoints.postgres.port);
    const postgresReplica = await proxyTo(endpoints.postgres.replicaPort);
    const redis = await proxyTo(Number(new URL(endpoints.redisUrl).port));
    const neo4j = await proxyTo(Number(new URL(endpoints.neo4jBoltUrl).port));
    const proxiesOf = { postgres: [postgresPrimary, postgresReplica], neo4j: [neo4j], redis: [redis] } as const;
    const stoppable = (service: { stop(): Promise<void>; start(): Promise<unknown> }): Stoppable => ({
      stop: () => service.stop(),
      start: async () => void (await service.start()),
    });
    /** Runs one statement on the replica itself as superuser (the application's role may not pause replay). */
    const onReplica = async (sql: string) => {
      const replica = services.postgresReplica.current;
      if (!replica) throw new Error('the Postgres replica is stopped');
      const client = new pg.Client({ connectionString: replica.url() });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
    };
    const controls: DependencyControls = {
      redis: stoppable(services.redis),
      neo4j: stoppable(services.neo4j),
      kafka: stoppable(services.kafka),
      unleash: stoppable(services.unleash),
      postgresPrimary: {
        // A fast shutdown (SIGINT: clients cut, in-flight transactions rolled back) and a start on the same data:
        // what `pg_ctl restart -m fast` does, with the server staying under the kit's process control.
        restart: async () => void (await services.postgres.restart()),
      },
      postgresReplica: {
        ...stoppable(services.postgresReplica),
        pauseReplay: () => onReplica('SELECT pg_wal_replay_pause()'),
        resumeReplay: () => onReplica('SELECT pg_wal_replay_resume()'),
      },
      latency: {
        set(target, ms) {
          for (const proxy of proxiesOf[target]) proxy.setLatency(ms);
        },
      },
    };
    return {
      endpoints: {
        ...endpoints,
        postgres: { ...endpoints.postgres, port: postgresPrimary.port, replicaPort: postgresReplica.port },
        redisUrl: `redis://${redis.host}:${redis.port}`,
        neo4jBoltUrl: `bolt://${neo4j.host}:${neo4j.port}`,
      },
      controls,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
