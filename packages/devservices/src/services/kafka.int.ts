import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../freePort';
import { kafkaApiVersions, startKafka, type RunningKafka } from './kafka';
import { ServiceStartError } from './managedProcess';

const { Kafka, Partitioners, logLevel } = kafkajs;

// The first run on a machine also fetches ~50 MB of jars with Maven.
const startTimeoutMs = 300_000;

describe('startKafka', () => {
  let workDir: string;
  let port: number;
  let controllerPort: number;
  let server: RunningKafka | undefined;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'kafka-int-'));
    port = await freePort();
    controllerPort = await freePort();
    server = await startKafka({ port, controllerPort, dataDir: join(workDir, 'data'), logFile: join(workDir, 'kafka.log') });
  }, startTimeoutMs);

  afterAll(async () => {
    await server?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  it('answers ApiVersions on the loopback port it was given', async () => {
    expect(server?.brokers).toEqual([`127.0.0.1:${port}`]);
    expect(await kafkaApiVersions('127.0.0.1', port)).toBe(true);
  });

  it('round-trips one message through kafkajs', async () => {
    const kafka = new Kafka({ clientId: 'kafka-int', brokers: server!.brokers, logLevel: logLevel.WARN });
    const topic = 'testkit-roundtrip';
    const admin = kafka.admin();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    const consumer = kafka.consumer({ groupId: 'testkit-roundtrip' });
    try {
      await admin.connect();
      // auto.create.topics.enable is off, as in production.
      await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
      await producer.connect();
      await producer.send({ topic, messages: [{ key: 'k', value: 'hello' }] });

      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = new Promise<string>((resolve) => {
        void consumer.run({ eachMessage: async ({ message }) => resolve(message.value?.toString('utf8') ?? '') });
      });
      await expect(received).resolves.toBe('hello');
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  }, 60_000);

  it('leaves nothing listening after stop()', async () => {
    await server!.stop();
    expect(server!.process.isRunning()).toBe(false);
    await expect(canConnect(port)).resolves.toBe(false);
    await expect(canConnect(controllerPort)).resolves.toBe(false);
  });

  it(
    'rejects with a ServiceStartError naming the log file when its port is taken',
    async () => {
      const takenPort = await freePort();
      const otherControllerPort = await freePort();
      const squatter = await listen(takenPort);
      try {
        const logFile = join(workDir, 'broken-kafka.log');
        const started = startKafka({
          port: takenPort,
          controllerPort: otherControllerPort,
          dataDir: join(workDir, 'broken'),
          logFile,
          deadlineMs: 120_000,
        });
        await expect(started).rejects.toBeInstanceOf(ServiceStartError);
        await expect(started).rejects.toThrow(logFile);
        // The half-started broker must not linger on its controller port.
        await expect(canConnect(otherControllerPort)).resolves.toBe(false);
      } finally {
        await new Promise<void>((resolve) => squatter.close(() => resolve()));
      }
    },
    startTimeoutMs,
  );
});

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
