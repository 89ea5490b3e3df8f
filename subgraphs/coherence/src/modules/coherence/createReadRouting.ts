import { createPgPool, type Logger, type PgPool } from '@coherence/platform';
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ReadRoutingOptions {
  /** Region tag → connection string of that region's streaming replica (as coherence_app). */
  replicaUrls: Readonly<Record<string, string>>;
  logger: Logger;
  metrics: Registry;
}

export interface ReadRouting {
  /** The replica a read-model read goes to for this hint; undefined: the primary. */
  replicaFor(regionHint: string | undefined): PgPool | undefined;
  close(): Promise<void>;
}

/**
 * Picks where read-model reads go (docs/architecture.md, "Read path"): the gateway
 * sends its region as a hint while `region-routing` is on, and a hint naming a
 * configured replica sends the read there. Replicas lag the primary by their
 * replication delay, which a score read tolerates (it is recomputed
 * asynchronously anyway); writes never come here.
 */
export function createReadRouting(options: ReadRoutingOptions): ReadRouting {
  const { logger } = options;
  const replicas = new Map(
    Object.entries(options.replicaUrls).map(([region, url]) => [
      region,
      createPgPool(url, { onIdleError: (err) => logger.warn({ err, region }, 'idle replica client failed') }),
    ]),
  );
  const reads = new Counter({
    name: 'coherence_read_model_reads_total',
    help: 'Read-model reads by where they went: `primary`, or the region of the replica.',
    labelNames: ['target'],
    registers: [options.metrics],
  });
  // Read at scrape time from each replica: 0 while it has replayed all the WAL it
  // received, else the age of the last transaction it replayed (an idle primary
  // sends nothing, so that age alone would read as lag). NaN: it does not answer.
  new Gauge({
    name: 'coherence_replica_lag_seconds',
    help: 'How far each read replica is behind in replaying its primary, by the region it serves (NaN while it does not answer).',
    labelNames: ['replica_region'],
    registers: [options.metrics],
    async collect() {
      await Promise.all(
        [...replicas].map(async ([region, pool]) => {
          const lag = await pool
            .query<{ lag: number }>(
              `SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                      ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8 AS lag`,
            )
            .then(
              ({ rows }) => rows[0]?.lag ?? Number.NaN,
              () => Number.NaN,
            );
          this.set({ replica_region: region }, lag);
        }),
      );
    },
  });
  return {
    replicaFor(regionHint) {
      const replica = regionHint === undefined ? undefined : replicas.get(regionHint);
      reads.inc({ target: replica ? regionHint! : 'primary' });
      return replica;
    },
    async close() {
      await Promise.all([...replicas.values()].map((pool) => pool.end()));
    },
  };
}
