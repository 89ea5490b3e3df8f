import { setTimeout as sleep } from 'node:timers/promises';
import type { Push } from './reconcileAtTarget';

export interface PushTarget {
  tenantId: string;
  /** A bearer token of the tenant with coherence:write:self. */
  token: string;
}

export interface SignalPushesOptions {
  ingestUrl: string;
  tenants: readonly PushTarget[];
  /** Pushes per second over all workers; each push is one signal. */
  ratePerSecond: number;
  /** Concurrent pushers; default 4. */
  workers?: number;
}

/** Values a quarter apart and integer weights: every sum of them is exact in binary floating point, in any order. */
const VALUES = [0.25, 0.5, 0.75, 1];
const SOURCES = ['api', 'db'];
const PUSH_TIMEOUT_MS = 10_000;

/**
 * Steady HTTP pushes to ingest's `POST /v1/signals`, one signal per request
 * so that each 202 acknowledges exactly one signal, each recorded with when
 * it was sent and answered. Every worker paces itself to its share of the
 * rate; a slow answer delays only that worker's next push.
 */
export function startSignalPushes(options: SignalPushesOptions) {
  const workers = options.workers ?? 4;
  const intervalMs = (1_000 * workers) / options.ratePerSecond;
  const pushes: Push[] = [];
  let stopping = false;

  async function pushOne(worker: number, n: number): Promise<void> {
    const tenantIndex = (worker + n) % options.tenants.length;
    const { tenantId, token } = options.tenants[tenantIndex]!;
    const signalId = `w${worker}-${n}`;
    const startedAt = Date.now();
    const signal = {
      tenantId,
      source: SOURCES[n % SOURCES.length],
      signalId,
      ts: new Date(startedAt - 1_000).toISOString(),
      type: 'health',
      value: VALUES[(n + tenantIndex) % VALUES.length],
      weight: 1 + (n % 3),
    };
    const status = await fetch(`${options.ingestUrl}/v1/signals`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ signals: [signal] }),
      signal: AbortSignal.timeout(PUSH_TIMEOUT_MS),
    }).then(
      async (response) => {
        await response.arrayBuffer();
        return response.status;
      },
      () => 0,
    );
    pushes.push({ tenantId, signalId, startedAt, answeredAt: Date.now(), status });
  }

  const running = Array.from({ length: workers }, async (_, worker) => {
    // Staggered, so the workers' pushes interleave rather than arrive together.
    let nextAt = Date.now() + (intervalMs * worker) / workers;
    for (let n = 0; !stopping; n += 1) {
      await sleep(Math.max(0, nextAt - Date.now()));
      if (stopping) break;
      nextAt += intervalMs;
      await pushOne(worker, n);
    }
  });

  return {
    /** Every push so far, in the order the answers came. */
    pushes,
    /** Stops sending; resolves once every push in flight was answered. */
    async stop(): Promise<readonly Push[]> {
      stopping = true;
      await Promise.all(running);
      return pushes;
    },
  };
}
