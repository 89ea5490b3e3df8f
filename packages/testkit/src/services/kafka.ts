import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { logSizeBytes, runToLog, withCauseFromLog } from './jvm/serverLog';
import { ensureJvmJars, jarClassPath, jdkCommand } from './jvmJars';
import { ServiceStartError, spawnManaged, waitUntilHealthy, type ManagedProcess } from './managedProcess';

export interface StartKafkaOptions {
  /** PLAINTEXT (client) port on 127.0.0.1. */
  port: number;
  /** KRaft controller port on 127.0.0.1. */
  controllerPort: number;
  /** Holds `config/` (generated) and `logs/` (the topic data); an already formatted one is reused. */
  dataDir: string;
  /** stdout/stderr of the storage format step and of the broker. */
  logFile: string;
  /** From the format step to healthy; the first jar fetch is not counted. Default 120_000. */
  deadlineMs?: number;
  /** JVM heap ceiling. Default 512. */
  heapMb?: number;
}

export interface RunningKafka {
  /** `127.0.0.1:<port>`, ready for kafkajs `brokers`. */
  brokers: string[];
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * Starts a single-node Kafka 3.9 in KRaft mode (broker and controller in one
 * JVM) on 127.0.0.1, and resolves once the broker answers an ApiVersions
 * request. Throws a ServiceStartError naming `logFile` if it does not come
 * up within `deadlineMs`, and leaves no process behind.
 */
export async function startKafka(options: StartKafkaOptions): Promise<RunningKafka> {
  const jarDir = await ensureJvmJars('kafka');
  const startedAt = Date.now();
  // Only this run's lines are searched for the cause of a failed start.
  const logOffset = logSizeBytes(options.logFile);
  const deadlineMs = options.deadlineMs ?? 120_000;
  const dataDir = resolve(options.dataDir);
  const configDir = join(dataDir, 'config');
  const serverProperties = join(configDir, 'server.properties');
  const log4jProperties = join(configDir, 'log4j.properties');
  const logDir = join(dataDir, 'logs');
  mkdirSync(configDir, { recursive: true });
  await writeFile(serverProperties, serverConfig(options.port, options.controllerPort, logDir));
  await writeFile(log4jProperties, log4jConfig);

  const heapMb = options.heapMb ?? 512;
  const jvmArgs = [
    `-Xmx${heapMb}m`,
    `-Xms${Math.min(heapMb, 128)}m`,
    // What kafka-run-class.sh uses; short pauses keep request latency stable in tests.
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${log4jProperties}`,
    '-cp',
    jarClassPath(jarDir),
  ];

  // KRaft needs its metadata log formatted once with a cluster id. A data dir
  // formatted by an earlier run (the dev stack's) is kept as it is: formatting
  // it again, even with --ignore-formatted, fails on the new cluster id.
  if (!existsSync(join(logDir, 'meta.properties'))) {
    const formatExitCode = await runToLog(
      jdkCommand(),
      [...jvmArgs, 'kafka.tools.StorageTool', 'format', '-t', newClusterId(), '-c', serverProperties],
      options.logFile,
    );
    if (formatExitCode !== 0) {
      throw await withCauseFromLog(
        new ServiceStartError('kafka', options.logFile, `kafka-storage format exited with ${formatExitCode}`),
        options.logFile,
        logOffset,
        formatErrorLine,
      );
    }
  }

  const server = spawnManaged({
    name: 'kafka',
    command: jdkCommand(),
    args: [...jvmArgs, 'kafka.Kafka', serverProperties],
    logFile: options.logFile,
  });
  try {
    await waitUntilHealthy(
      'kafka',
      options.logFile,
      () => kafkaApiVersions('127.0.0.1', options.port),
      Math.max(deadlineMs - (Date.now() - startedAt), 1_000),
      server,
    );
  } catch (error) {
    await server.stop();
    throw await withCauseFromLog(error, options.logFile, logOffset, kafkaErrorLine);
  }
  return {
    brokers: [`127.0.0.1:${options.port}`],
    process: server,
    stop: () => server.stop(),
  };
}

/** log4j lines at ERROR or FATAL, e.g. `[2026-…] ERROR Unable to start acceptor … (kafka.network.DataPlaneAcceptor)`. */
const kafkaErrorLine = /^\[[^\]]+\] (ERROR|FATAL) /;
/** StorageTool reports a bad config or data dir as an uncaught exception, not through log4j. */
const formatErrorLine = /^(Exception in thread|\[[^\]]+\] (ERROR|FATAL) )/;

function serverConfig(port: number, controllerPort: number, logDir: string): string {
  return `# Written by packages/testkit/src/services/kafka.ts on every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=${logDir}
num.partitions=1
default.replication.factor=1
auto.create.topics.enable=false
# One node: internal topics cannot have more replicas, and a single partition
# each makes the first consumer group and transaction start fast.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
# Few threads: the machine has 2 cores shared with Neo4j and Postgres.
num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
`;
}

const log4jConfig = `# Written by packages/testkit/src/services/kafka.ts: everything at INFO to stdout, which is the log file.
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
# Per-request and per-partition chatter that drowns the useful lines.
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
`;

/** A KRaft cluster id: 16 random bytes, base64url without padding (what `kafka-storage random-uuid` prints). */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    // A leading '-' would be read as an option by the StorageTool command line.
    if (!id.startsWith('-')) return id;
  }
}

/**
 * Sends a Kafka ApiVersions v0 request (api_key 18, request header v1) and
 * resolves true when the answer carries our correlation id and error_code 0.
 * The broker only processes requests once it has joined the KRaft quorum and
 * been unfenced, so this is a real readiness check, unlike a TCP connect
 * (the port is bound well before that).
 */
export function kafkaApiVersions(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  const correlationId = Math.floor(Math.random() * 0x7fff_ffff);
  const clientId = Buffer.from('testkit-health', 'utf8');
  // Header v1: api_key int16, api_version int16, correlation_id int32, client_id nullable string (int16 length).
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  body.writeInt16BE(18, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(correlationId, 4);
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const sizePrefix = Buffer.alloc(4);
  sizePrefix.writeInt32BE(body.length, 0);

  return new Promise((resolvePromise, reject) => {
    const socket = createConnection({ host, port });
    let answer = Buffer.alloc(0);
    const finish = (error: Error | undefined, healthy = false): void => {
      socket.destroy();
      if (error) reject(error);
      else resolvePromise(healthy);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no ApiVersions answer within ${timeoutMs} ms`)));
    socket.once('error', (error) => finish(error));
    socket.once('connect', () => socket.write(Buffer.concat([sizePrefix, body])));
    socket.on('data', (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      // Response: size int32, correlation_id int32, error_code int16, api_keys array …
      if (answer.length < 4 + 4 + 2) return;
      const gotCorrelationId = answer.readInt32BE(4);
      const errorCode = answer.readInt16BE(8);
      if (gotCorrelationId !== correlationId) {
        finish(new Error(`ApiVersions answer has correlation id ${gotCorrelationId}, expected ${correlationId}`));
      } else if (errorCode !== 0) {
        finish(new Error(`ApiVersions answered error_code ${errorCode}`));
      } else {
        finish(undefined, true);
      }
    });
    socket.once('end', () => finish(new Error('connection closed before the ApiVersions answer')));
  });
}
