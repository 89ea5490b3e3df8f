import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

export interface WalArchiveLagSample {
  at: number;
  /** WAL the primary had written that pg_receivewal had not yet flushed to the archive. */
  bytes: number;
  /** Postgres' own flush_lag of the archiver (written on the primary → flushed by pg_receivewal); 0 while caught up. */
  flushLagMs: number;
}

export interface WalArchiveLag {
  samples: number;
  maxFlushLagMs: number;
  meanFlushLagMs: number;
  maxBytes: number;
}

/**
 * Samples, every `intervalMs`, how far the WAL archive (pg_receivewal) is
 * behind the primary at `url`: what a primary lost with its disk at that
 * moment would take with it, the RPO of the backup.
 */
export function sampleWalArchiveLag(url: string, intervalMs = 250) {
  const samples: WalArchiveLagSample[] = [];
  let stopping = false;
  let failure: unknown;
  const done = (async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      while (!stopping) {
        const { rows } = await client.query<{ bytes: string; flush_lag_ms: number | null }>(
          `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::text AS bytes,
                  (extract(epoch FROM flush_lag) * 1000)::float8 AS flush_lag_ms
             FROM pg_stat_replication WHERE application_name = 'pg_receivewal'`,
        );
        // flush_lag is NULL once the archiver has caught up and nothing new was written.
        for (const row of rows) samples.push({ at: Date.now(), bytes: Number(row.bytes), flushLagMs: row.flush_lag_ms ?? 0 });
        await sleep(intervalMs);
      }
    } finally {
      await client.end();
    }
  })().catch((error: unknown) => {
    failure = error;
  });
  return {
    /** Stops sampling; resolves to every sample taken. */
    async stop(): Promise<readonly WalArchiveLagSample[]> {
      stopping = true;
      await done;
      if (failure !== undefined) throw failure;
      return samples;
    },
  };
}

/** The samples taken at or after `fromMs` (default all), summed up. */
export function summarizeWalArchiveLag(samples: readonly WalArchiveLagSample[], fromMs = 0): WalArchiveLag {
  const taken = samples.filter((sample) => sample.at >= fromMs);
  return {
    samples: taken.length,
    maxFlushLagMs: taken.reduce((max, sample) => Math.max(max, sample.flushLagMs), 0),
    meanFlushLagMs: taken.length === 0 ? 0 : taken.reduce((sum, sample) => sum + sample.flushLagMs, 0) / taken.length,
    maxBytes: taken.reduce((max, sample) => Math.max(max, sample.bytes), 0),
  };
}
