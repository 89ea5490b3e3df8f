import type { CommandPayload } from '@coherence/contracts';
import { inTransaction, type Logger, type PgPool } from '@coherence/platform';
import { contextOf, inSpan, SpanKind, type TraceHeaders } from '@coherence/telemetry';
import pg from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CommandFailure, type CommandFailureCode } from '../errors';
import { retryDelayMs, type BackoffOptions } from './backoff';
import { setOperatorAccess } from './operatorAccess';
import { COMMS_DISPATCH_CHANNEL } from './sendCommand';

/** A command as a worker holds it: leased until it finishes, fails, or the lease expires. */
export interface ClaimedCommand {
  commandId: string;
  tenantId: string;
  type: string;
  idempotencyKey: string;
  correlationId: string;
  payload: CommandPayload;
  /** Including this one. */
  attempts: number;
  maxAttempts: number;
  /** Fences every later write: a worker whose lease was taken over changes nothing. */
  leaseToken: string;
  /** The trace the command was sent in, which running it continues. */
  trace: TraceHeaders;
}

export interface HandlerContext {
  command: ClaimedCommand;
  /** Aborted when the worker stops before the handler finished: stop promptly, the command is released. */
  signal: AbortSignal;
  logger: Logger;
}

/** `done` succeeds the command; `deferred` puts it back, not counting the attempt, until `until`. */
export type HandlerOutcome = { outcome: 'done' } | { outcome: 'deferred'; until: Date; reason: string };

/** Runs one command; throws {@link CommandFailure} to say whether a retry can help. */
export type CommandHandler = (context: HandlerContext) => Promise<HandlerOutcome>;

export interface BusWorkerOptions {
  /** comms_app; the worker takes operator access to `region` per transaction to claim across its tenants. */
  pool: PgPool;
  /** The worker's region (COMMS_REGION): it claims the commands of the tenants residing there only. */
  region: string;
  /** Connection string for the LISTEN connection; absent ⇒ polling only. */
  listenUrl?: string;
  /** Command type → handler. A type not here goes straight to troubleshooting. */
  handlers: Readonly<Record<string, CommandHandler>>;
  logger: Logger;
  /** Shows up as `system:<workerId>` in the audit trail. */
  workerId: string;
  /** Commands run at the same time by this worker. */
  concurrency: number;
  /** How long a claim holds; must exceed the longest handler run (delivery timeout). */
  leaseMs: number;
  /** Fallback poll interval when no NOTIFY arrives (retries, deferrals, lost notifications). */
  pollMs: number;
  /** At stop, how long in-flight commands may finish before they are aborted and released. */
  drainMs: number;
  retry: BackoffOptions;
  metrics?: Registry;
  /**
   * While it answers true the worker claims nothing (commands already running
   * finish): due commands wait in the table, and are claimed once it answers
   * false again. The `comms.notifications` kill switch.
   */
  paused?: () => boolean;
}

interface ClaimedRow {
  command_id: string;
  tenant_id: string;
  type: string;
  idempotency_key: string;
  correlation_id: string;
  payload: CommandPayload;
  attempts: number;
  max_attempts: number;
  lease_token: string;
  trace_headers: TraceHeaders | null;
}

type Transition =
  | { to: 'succeeded'; action: 'complete'; reason: string }
  | { to: 'pending'; action: 'retry' | 'defer' | 'release'; reason: string; runAfter: Date; attemptsDelta: 0 | -1; error?: StoredError }
  | { to: 'troubleshooting'; action: 'fail'; reason: string; error: StoredError };

export interface StoredError {
  code: CommandFailureCode;
  kind: string;
  message: string;
  attempt: number;
  at: string;
}

/**
 * A command-bus worker: claims due commands with `FOR UPDATE SKIP LOCKED`
 * under a lease, runs them through the handler registry with bounded
 * concurrency, and records every state change in `dispatch_audit` in the
 * same transaction as the change. It wakes on NOTIFY and polls as a
 * fallback; a lease that expires (crashed worker) makes the command due
 * again. `stop()` lets in-flight commands finish for `drainMs`, then aborts
 * and releases the rest: none is lost, none runs twice at the same time
 * (every write is fenced by the lease token). While `paused()` it claims
 * nothing, says so once in the log and in `comms_delivery_paused`.
 */
export function createBusWorker(options: BusWorkerOptions) {
  const { pool, logger } = options;
  const actor = `system:${options.workerId}`;
  const inFlight = new Map<string, { abort: AbortController; done: Promise<void> }>();
  let stopping = false;
  let loopDone: Promise<void> | undefined;
  let listener: pg.Client | undefined;
  let wakePending = false;
  let wakeSleeper: (() => void) | undefined;

  const finished = options.metrics
    ? new Counter({
        name: 'comms_commands_finished_total',
        help: 'Command runs by type and result (succeeded, retry, deferred, released, troubleshooting).',
        labelNames: ['type', 'result'] as const,
        registers: [options.metrics],
      })
    : undefined;
  const duration = options.metrics
    ? new Histogram({
        name: 'comms_command_run_seconds',
        help: 'Handler run time per command type.',
        labelNames: ['type'] as const,
        buckets: [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10],
        registers: [options.metrics],
      })
    : undefined;

  const pausedGauge = options.metrics
    ? new Gauge({
        name: 'comms_delivery_paused',
        help: '1 while this worker claims no command because the comms.notifications kill switch is off.',
        registers: [options.metrics],
      })
    : undefined;
  let wasPaused = false;

  /** Follows `options.paused`, logging and exporting each change; true while claiming must wait. */
  function isPaused(): boolean {
    const paused = options.paused?.() ?? false;
    if (paused !== wasPaused) {
      wasPaused = paused;
      pausedGauge?.set(paused ? 1 : 0);
      if (paused) logger.warn('delivery paused (comms.notifications is off): claiming nothing, commands wait');
      else logger.info('delivery resumed (comms.notifications is on)');
    }
    return paused;
  }

  function wake(): void {
    wakePending = true;
    wakeSleeper?.();
  }

  function sleepUntilWoken(ms: number): Promise<void> {
    if (wakePending) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wakeSleeper = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      wakeSleeper = done;
    });
  }

  async function connectListener(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url });
    client.on('notification', wake);
    client.on('error', (err) => {
      logger.warn({ err }, 'LISTEN connection failed; polling until it is back');
      if (listener === client) listener = undefined;
      void client.end().catch(() => undefined);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${COMMS_DISPATCH_CHANNEL}`);
    } catch (error) {
      // Connected but LISTEN refused (e.g. a standby): close it, or every loop would leak a connection.
      await client.end().catch(() => undefined);
      throw error;
    }
    listener = client;
  }

  async function claim(limit: number): Promise<ClaimedCommand[]> {
    const { rows } = await inTransaction(pool, async (client) => {
      await setOperatorAccess(client, options.region);
      return client.query<ClaimedRow>(
        `WITH picked AS (
           SELECT command_id, state FROM dispatch_commands
            WHERE (state = 'pending' AND run_after <= now()) OR (state = 'running' AND lease_expires_at < now())
            ORDER BY run_after, command_id LIMIT $1 FOR UPDATE SKIP LOCKED
         ), claimed AS (
           UPDATE dispatch_commands c
              SET state = 'running', attempts = c.attempts + 1, lease_token = gen_random_uuid(),
                  lease_expires_at = now() + $2 * interval '1 millisecond', updated_at = now()
             FROM picked WHERE c.command_id = picked.command_id
           RETURNING c.*, picked.state AS from_state
         ), audited AS (
           INSERT INTO dispatch_audit (command_id, tenant_id, actor, action, from_state, to_state, reason, correlation_id)
           SELECT command_id, tenant_id, $3, 'claim', from_state, 'running',
                  CASE WHEN from_state = 'running' THEN 'lease expired; claimed again (attempt ' || attempts || ')'
                       ELSE 'claimed (attempt ' || attempts || ')' END,
                  correlation_id
             FROM claimed
         )
         SELECT command_id, tenant_id, type, idempotency_key, correlation_id, payload, attempts, max_attempts, lease_token, trace_headers FROM claimed`,
        [limit, options.leaseMs, actor],
      );
    });
    return rows.map((r) => ({
      commandId: r.command_id,
      tenantId: r.tenant_id,
      type: r.type,
      idempotencyKey: r.idempotency_key,
      correlationId: r.correlation_id,
      payload: r.payload,
      attempts: r.attempts,
      maxAttempts: r.max_attempts,
      leaseToken: r.lease_token,
      trace: r.trace_headers ?? {},
    }));
  }

  /** Moves a command we hold out of `running`; false when our lease was taken over (nothing changed). */
  async function transition(command: ClaimedCommand, change: Transition): Promise<boolean> {
    const runAfter = 'runAfter' in change ? change.runAfter.toISOString() : null;
    const attemptsDelta = 'attemptsDelta' in change ? change.attemptsDelta : 0;
    const error = 'error' in change && change.error ? JSON.stringify(change.error) : null;
    const { rowCount } = await inTransaction(pool, async (client) => {
      await setOperatorAccess(client, options.region);
      return client.query(
        `WITH updated AS (
           UPDATE dispatch_commands
              SET state = $3, lease_token = NULL, lease_expires_at = NULL, updated_at = now(),
                  run_after = COALESCE($4::timestamptz, run_after), attempts = attempts + $5,
                  last_error = COALESCE($6::jsonb, last_error)
            WHERE command_id = $1 AND lease_token = $2 AND state = 'running'
           RETURNING command_id, tenant_id, correlation_id
         )
         INSERT INTO dispatch_audit (command_id, tenant_id, actor, action, from_state, to_state, reason, correlation_id)
         SELECT command_id, tenant_id, $7, $8, 'running', $3, $9, correlation_id FROM updated`,
        [command.commandId, command.leaseToken, change.to, runAfter, attemptsDelta, error, actor, change.action, change.reason],
      );
    });
    if (rowCount === 0) logger.warn({ command_id: command.commandId }, 'lease lost before the command finished; another worker owns it');
    return rowCount === 1;
  }

  function failure(command: ClaimedCommand, code: CommandFailureCode, message: string): StoredError {
    return { code, kind: new CommandFailure(code, message).kind, message, attempt: command.attempts, at: new Date().toISOString() };
  }

  async function execute(command: ClaimedCommand, abort: AbortController): Promise<void> {
    const log = logger.child({ command_id: command.commandId, tenant_id: command.tenantId, correlation_id: command.correlationId });
    const handler = options.handlers[command.type];
    const count = (result: string) => finished?.inc({ type: command.type, result });
    if (!handler) {
      count('troubleshooting');
      await transition(command, {
        to: 'troubleshooting',
        action: 'fail',
        reason: `no handler for type ${command.type}`,
        error: failure(command, 'UNKNOWN_COMMAND_TYPE', `no handler is registered for ${command.type}`),
      });
      return;
    }
    if (command.attempts > command.maxAttempts) {
      count('troubleshooting');
      await transition(command, {
        to: 'troubleshooting',
        action: 'fail',
        reason: `attempts exhausted (${command.maxAttempts}) by expired leases`,
        error: failure(command, 'ATTEMPTS_EXHAUSTED', 'every attempt ended with an expired lease (worker crash or stall)'),
      });
      return;
    }
    const stopTimer = duration?.startTimer({ type: command.type });
    try {
      const outcome = await inSpan(
        `comms run ${command.type}`,
        { kind: SpanKind.CONSUMER, parent: contextOf(command.trace), attributes: { 'messaging.message.id': command.commandId } },
        () => handler({ command, signal: abort.signal, logger: log }),
      );
      if (outcome.outcome === 'deferred') {
        count('deferred');
        await transition(command, { to: 'pending', action: 'defer', reason: outcome.reason, runAfter: outcome.until, attemptsDelta: -1 });
      } else {
        count('succeeded');
        await transition(command, { to: 'succeeded', action: 'complete', reason: `${command.type} done` });
      }
    } catch (error) {
      if (abort.signal.aborted) {
        count('released');
        log.info('released at shutdown before it finished');
        await transition(command, {
          to: 'pending',
          action: 'release',
          reason: 'worker stopped before the command finished',
          runAfter: new Date(),
          attemptsDelta: -1,
        });
        return;
      }
      const classified =
        error instanceof CommandFailure
          ? error
          : new CommandFailure('HANDLER_CRASHED', error instanceof Error ? error.message : String(error));
      const stored = failure(command, classified.code, classified.message);
      if (classified.kind === 'transient' && command.attempts < command.maxAttempts) {
        const delayMs = retryDelayMs(command.attempts, options.retry);
        count('retry');
        log.info({ code: classified.code, delay_ms: delayMs }, 'transient failure; retrying');
        await transition(command, {
          to: 'pending',
          action: 'retry',
          reason: `${classified.code}: ${classified.message}; retry in ${delayMs} ms`,
          runAfter: new Date(Date.now() + delayMs),
          attemptsDelta: 0,
          error: stored,
        });
      } else {
        count('troubleshooting');
        const why = classified.kind === 'transient' ? `retries exhausted after ${command.attempts} attempts` : 'permanent failure';
        log.warn({ code: classified.code }, `${why}; moved to troubleshooting`);
        await transition(command, {
          to: 'troubleshooting',
          action: 'fail',
          reason: `${why}: ${classified.code}: ${classified.message}`,
          error: stored,
        });
      }
    } finally {
      stopTimer?.();
    }
  }

  function start(command: ClaimedCommand): void {
    const abort = new AbortController();
    const done = execute(command, abort)
      .catch((err: unknown) =>
        logger.error({ err, command_id: command.commandId }, 'recording a command result failed; the lease will expire'),
      )
      .finally(() => {
        inFlight.delete(command.commandId);
        wake();
      });
    inFlight.set(command.commandId, { abort, done });
  }

  async function loop(): Promise<void> {
    while (!stopping) {
      if (options.listenUrl && !listener)
        await connectListener(options.listenUrl).catch((err: unknown) => logger.warn({ err }, 'LISTEN failed'));
      wakePending = false;
      const free = options.concurrency - inFlight.size;
      let mayBeMore = false;
      if (free > 0 && !isPaused()) {
        try {
          const claimed = await claim(free);
          for (const command of claimed) start(command);
          // A full claim means more may be due: go again at once if a slot is still free.
          mayBeMore = claimed.length === free && inFlight.size < options.concurrency;
        } catch (err) {
          logger.error({ err }, 'claiming commands failed');
        }
      }
      if (!mayBeMore) await sleepUntilWoken(options.pollMs);
    }
  }

  return {
    start(): void {
      loopDone ??= loop();
    },

    /** Stop claiming; let in-flight commands finish for `drainMs`, then abort and release the rest. */
    async stop(): Promise<void> {
      stopping = true;
      wake();
      await loopDone;
      const pending = [...inFlight.values()];
      const drained = await Promise.race([
        Promise.all(pending.map((p) => p.done)).then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), options.drainMs).unref()),
      ]);
      if (!drained) {
        for (const { abort } of inFlight.values()) abort.abort(new Error('worker stopping'));
        await Promise.all([...inFlight.values()].map((p) => p.done));
      }
      await listener?.end().catch(() => undefined);
      listener = undefined;
    },

    /** Commands this worker is running now. */
    inFlight: () => inFlight.size,
  };
}

export type BusWorker = ReturnType<typeof createBusWorker>;
