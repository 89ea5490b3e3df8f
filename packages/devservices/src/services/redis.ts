import { execFileSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { dirname, resolve } from 'node:path';
import { ensureDebianPackages } from './debianPackages';
import { spawnManaged, waitUntilHealthy, type ManagedProcess } from './managedProcess';
import { versions } from './versions';

const host = '127.0.0.1';

export interface RedisOptions {
  port: number;
  logFile: string;
  /** For the server to answer PING; default 30_000. */
  deadlineMs?: number;
}

export interface RunningRedis {
  /** `redis://127.0.0.1:<port>`; no password, loopback only. */
  readonly url: string;
  readonly port: number;
  readonly process: ManagedProcess;
  /** Idempotent. Nothing is persisted, so the data is gone afterwards. */
  stop(): Promise<void>;
}

/** Debian's redis-server in the foreground on 127.0.0.1:`port`, no persistence. */
export async function startRedis(options: RedisOptions): Promise<RunningRedis> {
  const deadlineMs = options.deadlineMs ?? 30_000;
  const logFile = resolve(options.logFile);
  await ensureDebianPackages([{ binary: 'redis-server', pkg: 'redis-server' }]);
  assertPinnedVersion();
  const settings: Record<string, string> = {
    port: String(options.port),
    bind: host,
    save: '',
    appendonly: 'no',
    // Foreground, so the managed process is the server itself and stop() reaches it.
    daemonize: 'no',
    // Empty: log to stdout, i.e. to logFile.
    logfile: '',
  };
  const managed = spawnManaged({
    name: 'redis',
    command: 'redis-server',
    args: Object.entries(settings).flatMap(([key, value]) => [`--${key}`, value]),
    logFile,
    // Where a stray dump (e.g. from a manual SAVE) would land, next to the log rather than in the repo.
    cwd: dirname(logFile),
  });
  const running: RunningRedis = {
    url: `redis://${host}:${options.port}`,
    port: options.port,
    process: managed,
    stop: () => managed.stop(),
  };
  try {
    await waitUntilHealthy('redis', logFile, () => answersAsUs(options.port, managed.pid), deadlineMs, managed);
  } catch (error) {
    await running.stop();
    throw error;
  }
  return running;
}

function assertPinnedVersion(): void {
  // "Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=…"
  const output = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
  const installed = /v=(\d+\.\d+\.\d+)/.exec(output)?.[1];
  if (installed === undefined || !`${installed}.`.startsWith(`${versions.redis}.`)) {
    throw new Error(
      `redis-server ${installed ?? '(unknown version)'} is installed but the kit pins ${versions.redis} (versions.ts); ` +
        'update the pin after checking the tests against the new version',
    );
  }
}

/**
 * PING must answer +PONG, and INFO must report our pid: a server that someone
 * else already runs on the port would otherwise pass for ours while our own
 * exits on "Address already in use".
 */
function answersAsUs(port: number, pid: number, timeoutMs = 2_000): Promise<boolean> {
  return new Promise((resolvePromise, reject) => {
    let received = '';
    const socket = createConnection({ host, port });
    const finish = (error: Error | undefined, healthy: boolean): void => {
      socket.destroy();
      if (error) reject(error);
      else resolvePromise(healthy);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no answer within ${timeoutMs} ms`), false));
    socket.once('error', (error) => finish(error, false));
    socket.once('connect', () => socket.write('PING\r\nINFO server\r\n'));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('utf8');
      if (!received.startsWith('+PONG\r\n')) {
        if (received.length >= 7 || received.startsWith('-')) finish(new Error(`unexpected answer: ${received.slice(0, 200)}`), false);
        return;
      }
      const info = /process_id:(\d+)\r\n/.exec(received);
      if (info) finish(undefined, Number(info[1]) === pid);
    });
    socket.once('end', () => finish(new Error('connection closed before INFO answered'), false));
  });
}
