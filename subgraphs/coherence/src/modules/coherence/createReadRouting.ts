import { createPgPool, type Logger, type PgPool } from '@coherence/platform';
import { Counter, type Registry } from 'prom-client';

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
