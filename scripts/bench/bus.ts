/**
 * `npm run bench:bus`: the comms command bus on a real Postgres. Not a test:
 * it prints a summary and writes reports/bench-bus.json.
 *
 * 1. throughput: --commands no-op commands are queued, then drained by 1, 4
 *    and 16 bus workers (each its own claim loop and LISTEN connection,
 *    concurrency 1, competing through FOR UPDATE SKIP LOCKED); commands/s
 *    counts claim + audit + completion, the whole per-command cost of the
 *    bus. Ratios are against the 1-worker run of the same invocation.
 * 2. latency: --samples commands sent one at a time to an idle worker; the
 *    time from just before the send to the handler starting, p50/p95/max,
 *    with LISTEN/NOTIFY and with polling only (poll interval --poll-ms).
 *
 * All workers run in this one process on a machine that also runs the
 * other servers, so absolute numbers are a floor, not a capacity figure.
 */
import { createBusWorker, sendCommand, type BusWorker, type CommandHandler } from '@coherence/comms';
import { createLogger, createPgPool, inTransaction, setTenant, type PgPool } from '@coherence/platform';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseNumberArgs } from '../commandLine';
import { watchMachine, writeReport } from './support/report';
import { withServers } from './support/servers';

const help = `usage: npm run bench:bus [-- --commands N] [--samples N] [--poll-ms MS]

  --commands  no-op commands per throughput run (default 3000)
  --samples   commands sent one by one per latency mode (default 200)
  --poll-ms   the workers' poll interval (default 250)
  -h, --help  this help

Prints commands/s with 1, 4 and 16 workers and p95 send-to-start latency with
LISTEN/NOTIFY vs polling only; writes reports/bench-bus.json.`;

const {
  commands: commandCount,
  samples: sampleCount,
  'poll-ms': pollMs,
} = parseNumberArgs(help, { commands: 3000, samples: 200, 'poll-ms': 250 });
const WORKER_COUNTS = [1, 4, 16] as const;
const NOOP = 'bench.noop';

const say = (message: string) => console.log(`[bench:bus] ${message}`);
const logger = createLogger('bench-bus', 'silent');
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

function startWorkers(
  pool: PgPool,
  appUrl: string,
  count: number,
  handler: CommandHandler,
  options: { listen: boolean; concurrency: number },
): BusWorker[] {
  return Array.from({ length: count }, (_, i) => {
    const worker = createBusWorker({
      pool,
      region: 'us',
      ...(options.listen ? { listenUrl: appUrl } : {}),
      handlers: { [NOOP]: handler },
      logger,
      workerId: `bench-${i}`,
      concurrency: options.concurrency,
      leaseMs: 30_000,
      pollMs,
      drainMs: 5_000,
      retry: { baseMs: 1_000, maxMs: 10_000 },
    });
    worker.start();
    return worker;
  });
}

const command = (tenantId: string, payload: Record<string, number>) => ({
  commandId: randomUUID(),
  tenantId,
  type: NOOP,
  idempotencyKey: randomUUID(),
  correlationId: `bench-${randomUUID()}`,
  payload,
  maxAttempts: 3,
});

async function throughput(pool: PgPool, appUrl: string, tenantId: string, workers: number) {
  // Queue everything first (8 senders), so the run measures draining only.
  const queued = Array.from({ length: commandCount }, () => command(tenantId, {}));
  for (let i = 0; i < queued.length; i += 8) await Promise.all(queued.slice(i, i + 8).map((c) => sendCommand(pool, c)));
  const startedAt = performance.now();
  const running = startWorkers(pool, appUrl, workers, async () => ({ outcome: 'done' }), { listen: true, concurrency: 1 });
  for (;;) {
    const left = await inTransaction(pool, async (client) => {
      await setTenant(client, tenantId);
      const { rows } = await client.query<{ left: number }>(
        `SELECT count(*)::int AS left FROM dispatch_commands WHERE state <> 'succeeded'`,
      );
      return rows[0]!.left;
    });
    if (left === 0) break;
    await sleep(10);
  }
  const seconds = (performance.now() - startedAt) / 1_000;
  await Promise.all(running.map((w) => w.stop()));
  return { workers, commands: commandCount, seconds: round(seconds, 2), commandsPerSecond: round(commandCount / seconds) };
}

async function latency(pool: PgPool, appUrl: string, tenantId: string, listen: boolean) {
  const samples: number[] = [];
  const handler: CommandHandler = async ({ command: c }) => {
    samples.push(Date.now() - Number(c.payload['sentAt']));
    return { outcome: 'done' };
  };
  const [worker] = startWorkers(pool, appUrl, 1, handler, { listen, concurrency: 4 });
  await sleep(500); // LISTEN connected, first poll done: the worker is idle
  for (let i = 0; i < sampleCount; i += 1) {
    await sendCommand(pool, command(tenantId, { sentAt: Date.now() }));
    // Irregular gaps, so sends do not line up with the poll timer.
    await sleep(20 + Math.random() * 40);
  }
  while (samples.length < sampleCount) await sleep(20);
  await worker!.stop();
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    mode: listen ? 'listen-notify' : 'polling-only',
    samples: sorted.length,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    maxMs: sorted.at(-1)!,
  };
}

const { loadAverageAtStart } = watchMachine();
let exitCode = 1;
try {
  await withServers({ tempPrefix: 'coherence-bench-bus-', say }, async ({ database, defer }) => {
    const pool = createPgPool(database.urls.comms, { max: 24 });
    defer(() => pool.end());
    // Workers claim the commands of their region's tenants only.
    const admin = createPgPool(database.adminUrl, { max: 1 });
    defer(() => admin.end());
    const tenants = [...WORKER_COUNTS.map((workers) => `tp${workers}`), 'lat-notify', 'lat-poll'].map(
      (name) => `${database.namespace}-${name}`,
    );
    await admin.query(`INSERT INTO tenants (tenant_id, residency) SELECT unnest($1::text[]), 'us'`, [tenants]);
    const runs = [];
    for (const workers of WORKER_COUNTS) {
      const run = await throughput(pool, database.urls.comms, `${database.namespace}-tp${workers}`, workers);
      say(`${workers} worker(s): ${run.commandsPerSecond} commands/s (${run.commands} in ${run.seconds} s)`);
      runs.push(run);
    }
    const baseline = runs[0]!.commandsPerSecond;
    const latencies = [];
    for (const listen of [true, false]) {
      const result = await latency(pool, database.urls.comms, `${database.namespace}-lat-${listen ? 'notify' : 'poll'}`, listen);
      say(`${result.mode}: send-to-start p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms, max ${result.maxMs} ms`);
      latencies.push(result);
    }
    const report = {
      generatedAt: new Date().toISOString(),
      machine: { cpus: cpus().length, loadAverageAtStart: round(loadAverageAtStart, 2) },
      handler: 'no-op',
      pollMs,
      throughput: runs.map((r) => ({ ...r, ratioToOneWorker: round(r.commandsPerSecond / baseline, 2) })),
      sendToStartLatency: latencies,
      notifyVsPollingP95Ratio: round(latencies[1]!.p95Ms / Math.max(1, latencies[0]!.p95Ms), 1),
    };
    writeReport('bench-bus.json', report);
    say('report: reports/bench-bus.json');
  });
  exitCode = 0;
} catch (error) {
  console.error(error);
}
process.exit(exitCode);
