import { spawn, type SpawnOptions } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A server process started by the dev services kit; `stop()` is idempotent. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** False once the process has exited (a crash during start-up, say). */
  isRunning(): boolean;
  /** Resolves with the exit code (null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs` (default 15_000). */
  stop(graceMs?: number): Promise<void>;
}

export class ServiceStartError extends Error {
  constructor(
    readonly service: string,
    readonly logFile: string,
    reason: string,
  ) {
    super(`${service} did not come up: ${reason}. See its log: ${logFile}\n--- last lines ---\n${tail(logFile)}`);
    this.name = 'ServiceStartError';
  }
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(log file not readable)';
  }
}

export interface SpawnManagedOptions {
  name: string;
  command: string;
  args: readonly string[];
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this OS user (needed for PostgreSQL when we are root). */
  runAsUser?: string;
}

/**
 * Starts a long-running server with stdout/stderr appended to `logFile`.
 * The child gets its own process group so that `stop()` reaches every
 * process it forked (a JVM launcher, `runuser`, …).
 */
export function spawnManaged(options: SpawnManagedOptions): ManagedProcess {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const fd = openSync(options.logFile, 'a');
  const [command, args] = options.runAsUser
    ? ['runuser', ['-u', options.runAsUser, '--', options.command, ...options.args]]
    : [options.command, [...options.args]];
  const spawnOptions: SpawnOptions = {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', fd, fd],
    detached: true,
  };
  const child = spawn(command, args, spawnOptions);
  closeSync(fd);
  if (child.pid === undefined) throw new ServiceStartError(options.name, options.logFile, 'spawn failed');
  const pid = child.pid;
  let exited = false;
  const exitedPromise = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exited = true;
      resolve(code);
    });
  });
  child.unref();
  return {
    name: options.name,
    pid,
    logFile: options.logFile,
    isRunning: () => !exited,
    exited: exitedPromise,
    async stop(graceMs = 15_000) {
      if (exited) return;
      signalGroup(pid, 'SIGTERM');
      // The grace timer keeps this process alive while we wait (a plain script
      // would otherwise exit here), and is cancelled as soon as the child exits.
      const grace = new AbortController();
      const timedOut = await Promise.race([
        exitedPromise.then(() => false),
        sleep(graceMs, undefined, { signal: grace.signal }).then(
          () => true,
          () => false,
        ),
      ]);
      grace.abort();
      if (timedOut) {
        signalGroup(pid, 'SIGKILL');
        await exitedPromise;
      }
    },
  };
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/**
 * Polls `probe` until it resolves true, or throws a ServiceStartError naming
 * the log file once `deadlineMs` has passed.
 */
export async function waitUntilHealthy(
  service: string,
  logFile: string,
  probe: () => Promise<boolean>,
  deadlineMs = 60_000,
  process?: ManagedProcess,
): Promise<void> {
  const giveUpAt = Date.now() + deadlineMs;
  let lastError = 'health check never passed';
  while (Date.now() < giveUpAt) {
    if (process && !process.isRunning()) throw new ServiceStartError(service, logFile, 'the process exited');
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
    await sleep(250);
  }
  throw new ServiceStartError(service, logFile, `no healthy answer within ${deadlineMs} ms (last: ${lastError})`);
}
