import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { logSizeBytes, readLogSince, runToLog, withCauseFromLog } from './jvm/serverLog';
import { ensureJvmJars, jarClassPath, jdkCommand, jitArgs, jvmSourceDir } from './jvmJars';
import { ServiceStartError, spawnManaged, waitUntilHealthy, type ManagedProcess } from './managedProcess';

export interface StartNeo4jOptions {
  /** Bolt port on 127.0.0.1. */
  boltPort: number;
  /** Neo4j home: `data/` and `logs/` (debug.log) are made inside it; reused across starts. */
  dataDir: string;
  /** stdout/stderr of the JVM (Neo4j's user log and the launcher's lines). */
  logFile: string;
  /** From spawn to healthy; the first jar fetch is not counted. Default 120_000. */
  deadlineMs?: number;
  /** JVM heap ceiling. Default 512. */
  heapMb?: number;
  /** Default false: C1 JIT only, which halves start-up CPU; set true for load tests against this server. */
  fullJit?: boolean;
}

export interface RunningNeo4j {
  /** `bolt://127.0.0.1:<port>`; auth is disabled (loopback test server). */
  boltUrl: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

const launcherSource = join(jvmSourceDir, 'Neo4jLauncher.java');

/** Printed by jvm/Neo4jLauncher.java once the default database can run queries. */
const readyLine = 'NEO4J_LAUNCHER_READY';
/** Printed by jvm/Neo4jLauncher.java with the root cause just before it exits on a failed start. */
const failedLine = /^NEO4J_LAUNCHER_FAILED /;

/**
 * Starts Neo4j 5.26 (embedded, Community) with Bolt on 127.0.0.1 and resolves
 * once it answers a Bolt handshake. Throws a ServiceStartError naming
 * `logFile` if it does not come up within `deadlineMs`, and leaves no process behind.
 */
export async function startNeo4j(options: StartNeo4jOptions): Promise<RunningNeo4j> {
  const jarDir = await ensureJvmJars('neo4j');
  const heapMb = options.heapMb ?? 512;
  // Only lines written after this offset count: the log is appended to across runs.
  const logOffset = logSizeBytes(options.logFile);
  const launcherClassesDir = await ensureLauncherCompiled(jarDir, options.logFile, logOffset);
  const server = spawnManaged({
    name: 'neo4j',
    command: jdkCommand(),
    args: [
      `-Xmx${heapMb}m`,
      // Neo4j warns about (and sizes memory pools by) an unset initial heap.
      `-Xms${Math.min(heapMb, 256)}m`,
      ...jitArgs(options.fullJit),
      // Lets the page cache use direct buffers instead of its slower fallback.
      '--add-opens=java.base/java.nio=ALL-UNNAMED',
      '--add-opens=java.base/sun.nio.ch=ALL-UNNAMED',
      '--add-opens=java.base/java.lang=ALL-UNNAMED',
      '-Dfile.encoding=UTF-8',
      '-cp',
      `${launcherClassesDir}${delimiter}${jarClassPath(jarDir)}`,
      'Neo4jLauncher',
      resolve(options.dataDir),
      String(options.boltPort),
    ],
    logFile: options.logFile,
  });
  try {
    // The ready line proves it is *our* JVM that bound the port (another
    // server already on it would pass the handshake); the handshake proves
    // Bolt really answers.
    await waitUntilHealthy(
      'neo4j',
      options.logFile,
      async () =>
        (await readLogSince(options.logFile, logOffset)).includes(readyLine) &&
        (await boltHandshake('127.0.0.1', options.boltPort)) !== undefined,
      options.deadlineMs ?? 120_000,
      server,
    );
  } catch (error) {
    await server.stop();
    throw await withCauseFromLog(error, options.logFile, logOffset, failedLine);
  }
  return {
    boltUrl: `bolt://127.0.0.1:${options.boltPort}`,
    process: server,
    stop: () => server.stop(),
  };
}

/**
 * Compiles jvm/Neo4jLauncher.java once per source version into the jar dir
 * and returns the classes folder. The file also runs as a single-file source
 * program (`java -cp '<jars>/*' Neo4jLauncher.java …`), but that compiles it
 * on every start: about 3 s and 5 s of CPU on the 2-core test machine, where
 * Kafka and Postgres start at the same time.
 */
async function ensureLauncherCompiled(jarDir: string, logFile: string, logOffset: number): Promise<string> {
  const sourceHash = createHash('sha256')
    .update(await readFile(launcherSource))
    .digest('hex')
    .slice(0, 16);
  const classesDir = join(jarDir, `launcher-${sourceHash}`);
  if (existsSync(join(classesDir, 'Neo4jLauncher.class'))) return classesDir;
  // Compile next to it and rename, so a half-written folder is never used.
  const partialDir = `${classesDir}.partial-${process.pid}-${Date.now()}`;
  try {
    const exitCode = await runToLog(jdkCommand('javac'), ['-d', partialDir, '-cp', jarClassPath(jarDir), launcherSource], logFile);
    if (exitCode !== 0) {
      throw await withCauseFromLog(
        new ServiceStartError('neo4j', logFile, `javac Neo4jLauncher.java exited with ${exitCode}`),
        logFile,
        logOffset,
        /: error: /,
      );
    }
    try {
      await rename(partialDir, classesDir);
    } catch (error) {
      // Another process compiled the same source first.
      if (!existsSync(join(classesDir, 'Neo4jLauncher.class'))) throw error;
    }
  } finally {
    await rm(partialDir, { recursive: true, force: true });
  }
  return classesDir;
}

/**
 * Performs the Bolt version handshake: the 0x6060B017 preamble plus four
 * version proposals, answered by 4 bytes naming the agreed version. Resolves
 * to e.g. `"5.8"`, or undefined when the server accepted none (or is not Bolt).
 * A TCP connect alone would succeed while Neo4j is still starting up.
 */
export function boltHandshake(host: string, port: number, timeoutMs = 2_000): Promise<string | undefined> {
  const request = Buffer.from([
    0x60, 0x60, 0xb0, 0x17,
    // Each proposal is [reserved, range, minor, major]: 5.8 down to 5.0, then 4.4 down to 4.2.
    0x00, 0x08, 0x08, 0x05, 0x00, 0x02, 0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  ]);
  return new Promise((resolvePromise, reject) => {
    const socket = createConnection({ host, port });
    let answer = Buffer.alloc(0);
    const finish = (error: Error | undefined, version?: string): void => {
      socket.destroy();
      if (error) reject(error);
      else resolvePromise(version);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no Bolt handshake answer within ${timeoutMs} ms`)));
    socket.once('error', (error) => finish(error));
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      if (answer.length < 4) return;
      const major = answer.readUInt8(3);
      const minor = answer.readUInt8(2);
      finish(undefined, major === 0 ? undefined : `${major}.${minor}`);
    });
    socket.once('end', () => finish(new Error('connection closed before the Bolt handshake answer')));
  });
}
