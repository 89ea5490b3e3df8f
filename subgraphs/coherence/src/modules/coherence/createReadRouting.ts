import { createPgPool, isUnreachableError, type Logger, type PgPool } from '@coherence/platform';
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ReadRoutingOptions {
  /** Region tag → connection string of that region's streaming replica (as coherence_app). */
  replicaUrls: Readonly<Record<string, string>>;
  /** A replica further behind than this in replaying its primary is passed over for the primary (COHERENCE_REPLICA_MAX_LAG_MS). */
  maxLagMs: number;
  /** How often each replica's lag is measured; default 1_000. */
  lagCheckIntervalMs?: number;
  logger: Logger;
  metrics: Registry;
}

export interface ReadRouting {
  /**
   * Runs a read-model read where the region hint sends it: that region's
   * replica while it is within `maxLagMs` of the primary and answers, else
   * `primary` (counted in coherence_replica_fallbacks_total), so a lagging or
   * lost replica never fails a read (docs/runbooks/drills/postgres-replica-lag.md).
   */
  read<T>(regionHint: string | undefined, primary: PgPool, query: (pool: PgPool) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** 0 while the replica has replayed all the WAL it received, else the age of the last transaction it replayed. */
const LAG_SQL = `SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                 ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8 AS lag`;

/**
 * Picks where read-model reads go (docs/architecture.md, "Read path"): the gateway
 * sends its region as a hint while `region-routing` is on, and a hint naming a
 * configured replica sends the read there. Replicas lag the primary by their
 * replication delay, which a score read tolerates up to `maxLagMs` (it is
 * recomputed asynchronously anyway); writes never come here. Each replica's
 * lag is measured in the background (an idle primary sends nothing, so the age
 * of the last replayed transaction alone would read as lag).
 */
export function createReadRouting(options: ReadRoutingOptions): ReadRouting {
  const { logger, maxLagMs } = options;
  const replicas = new Map(
    Object.entries(options.replicaUrls).map(([region, url]) => [
      region,
      {
        pool: createPgPool(url, { onIdleError: (err) => logger.warn({ err, region }, 'idle replica client failed') }),
        // NaN: not answering. Until the first measurement, trusted as in step.
        lagSeconds: 0,
      },
    ]),
  );
  const reads = new Counter({
    name: 'coherence_read_model_reads_total',
    help: 'Read-model reads by where they went: `primary`, or the region of the replica.',
    labelNames: ['target'],
    registers: [options.metrics],
  });
  const fallbacks = new Counter({
    name: 'coherence_replica_fallbacks_total',
    help: 'Reads hinted to a replica that went to the primary instead, by replica region and reason (`lag`: over COHERENCE_REPLICA_MAX_LAG_MS behind; `down`: not answering).',
    labelNames: ['replica_region', 'reason'],
    registers: [options.metrics],
  });
  new Gauge({
    name: 'coherence_replica_lag_seconds',
    help: 'How far each read replica is behind in replaying its primary, by the region it serves (NaN while it does not answer).',
    labelNames: ['replica_region'],
    registers: [options.metrics],
    async collect() {
      await measureAll();
      for (const [region, replica] of replicas) this.set({ replica_region: region }, replica.lagSeconds);
    },
  });
  async function measureAll() {
    await Promise.all(
      [...replicas.values()].map(async (replica) => {
        replica.lagSeconds = await replica.pool.query<{ lag: number }>(LAG_SQL).then(
          ({ rows }) => rows[0]?.lag ?? Number.NaN,
          () => Number.NaN,
        );
      }),
    );
  }
  const timer = setInterval(() => void measureAll(), options.lagCheckIntervalMs ?? 1_000);
  timer.unref();

  const onPrimary = async <T>(region: string, reason: 'lag' | 'down', primary: PgPool, query: (pool: PgPool) => Promise<T>) => {
    fallbacks.inc({ replica_region: region, reason });
    reads.inc({ target: 'primary' });
    return query(primary);
  };
  return {
    async read(regionHint, primary, query) {
      const replica = regionHint === undefined ? undefined : replicas.get(regionHint);
      if (!replica || regionHint === undefined) {
        reads.inc({ target: 'primary' });
        return query(primary);
      }
      if (Number.isNaN(replica.lagSeconds)) return onPrimary(regionHint, 'down', primary, query);
      if (replica.lagSeconds * 1_000 > maxLagMs) return onPrimary(regionHint, 'lag', primary, query);
      try {
        const result = await query(replica.pool);
        reads.inc({ target: regionHint });
        return result;
      } catch (error) {
        if (!isUnreachableError(error)) throw error;
        // Gone since the last measurement: pass it over until a measurement finds it answering again.
        replica.lagSeconds = Number.NaN;
        logger.warn({ err: error, region: regionHint }, 'read replica unreachable; reading from the primary');
        return onPrimary(regionHint, 'down', primary, query);
      }
    },
    async close() {
      clearInterval(timer);
      await Promise.all([...replicas.values()].map(({ pool }) => pool.end()));
    },
  };
}
