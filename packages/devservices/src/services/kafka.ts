import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';
import { logSizeBytes, runToLog, withCauseFromLog } from './jvm/serverLog';
import { ensureJvmJars, jarClassPath, jdkCommand, jitArgs } from './jvmJars';
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
  /** Default false: C1 JIT only, which halves start-up CPU; set true for load tests against this broker. */
  fullJit?: boolean;
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
 * request and its group coordinator has loaded (consumers can join at once).
 * Throws a ServiceStartError naming `logFile` if it does not come up within
 * `deadlineMs`, and leaves no process behind.
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
    ...jitArgs(options.fullJit),
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
      async () => (await kafkaApiVersions('127.0.0.1', options.port)) && (await kafkaGroupCoordinatorReady('127.0.0.1', options.port)),
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
  return `# Written by packages/devservices/src/services/kafka.ts on every start; edits are lost.
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

const log4jConfig = `# Written by packages/devservices/src/services/kafka.ts: everything at INFO to stdout, which is the log file.
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

/** Kafka protocol error codes the start-up probes expect to see while the broker settles. */
const coordinatorNotAvailable = 15;
const coordinatorLoadInProgress = 14;

/**
 * Sends a Kafka ApiVersions v0 request (api_key 18) and resolves true when
 * the answer carries error_code 0. The broker only processes requests once it
 * has joined the KRaft quorum and been unfenced, so this is a real readiness
 * check, unlike a TCP connect (the port is bound well before that).
 */
export async function kafkaApiVersions(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  // Response v0: error_code int16, then the api_keys array.
  const response = await kafkaRequest(host, port, 18, 0, Buffer.alloc(0), timeoutMs);
  const errorCode = response.readInt16BE(0);
  if (errorCode !== 0) throw new Error(`ApiVersions answered error_code ${errorCode}`);
  return true;
}

/**
 * True once a consumer group could join right now: FindCoordinator finds a
 * coordinator (the first call creates __consumer_offsets) and DescribeGroups
 * no longer answers "coordinator loading". Without this, the first kafkajs
 * consumer in a test crashes with "The coordinator is loading" and restarts.
 */
export async function kafkaGroupCoordinatorReady(host: string, port: number, timeoutMs = 2_000): Promise<boolean> {
  const groupId = 'testkit-health';
  // FindCoordinator v0: key (group id) string. Response: error_code int16, node_id int32, host string, port int32.
  const found = await kafkaRequest(host, port, 10, 0, kafkaString(groupId), timeoutMs);
  const findError = found.readInt16BE(0);
  if (findError === coordinatorNotAvailable) return false;
  if (findError !== 0) throw new Error(`FindCoordinator answered error_code ${findError}`);
  // DescribeGroups v0: array (int32 count) of group id strings. Response: array count int32, then per group error_code int16, ….
  const groups = Buffer.concat([int32(1), kafkaString(groupId)]);
  const described = await kafkaRequest(host, port, 15, 0, groups, timeoutMs);
  const describeError = described.readInt16BE(4);
  if (describeError === coordinatorLoadInProgress || describeError === coordinatorNotAvailable) return false;
  if (describeError !== 0) throw new Error(`DescribeGroups answered error_code ${describeError}`);
  return true;
}

/**
 * One request/response over a fresh connection, with request header v1
 * (api_key int16, api_version int16, correlation_id int32, client_id string)
 * and response header v0 (correlation_id int32). Resolves with the response
 * body. Only for non-flexible (pre-tagged-fields) API versions; Kafka 4.0
 * dropped v0 of FindCoordinator and DescribeGroups (KIP-896), so revisit the
 * probes before moving off 3.9.
 */
function kafkaRequest(host: string, port: number, apiKey: number, apiVersion: number, body: Buffer, timeoutMs: number): Promise<Buffer> {
  const correlationId = Math.floor(Math.random() * 0x7fff_ffff);
  const header = Buffer.alloc(8);
  header.writeInt16BE(apiKey, 0);
  header.writeInt16BE(apiVersion, 2);
  header.writeInt32BE(correlationId, 4);
  const request = Buffer.concat([header, kafkaString('testkit-health'), body]);
  const frame = Buffer.concat([int32(request.length), request]);

  return new Promise((resolvePromise, reject) => {
    const socket = createConnection({ host, port });
    let answer = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, response?: Buffer): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolvePromise(response ?? Buffer.alloc(0));
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no answer to Kafka api_key ${apiKey} within ${timeoutMs} ms`)));
    socket.once('error', (error) => finish(error));
    socket.once('connect', () => socket.write(frame));
    socket.on('data', (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
      if (answer.length < 4) return;
      const size = answer.readInt32BE(0);
      if (answer.length < 4 + size) return;
      const gotCorrelationId = answer.readInt32BE(4);
      if (gotCorrelationId !== correlationId) {
        finish(new Error(`Kafka answer has correlation id ${gotCorrelationId}, expected ${correlationId}`));
      } else {
        finish(undefined, answer.subarray(8, 4 + size));
      }
    });
    socket.once('end', () => finish(new Error(`connection closed before the answer to Kafka api_key ${apiKey}`)));
  });
}

/** Kafka STRING: int16 length, then UTF-8 bytes. */
function kafkaString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const length = Buffer.alloc(2);
  length.writeInt16BE(bytes.length, 0);
  return Buffer.concat([length, bytes]);
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value, 0);
  return buffer;
}
