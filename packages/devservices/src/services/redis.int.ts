import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceStartError } from './managedProcess';
import { startRedis, type RunningRedis } from './redis';

// A fresh machine first installs redis-server with apt inside beforeAll.
const startTimeoutMs = 300_000;
const testTimeoutMs = 30_000;

describe('Redis (Debian package)', () => {
  let root = '';
  let redis: RunningRedis | undefined;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'testkit-redis-'));
    chmodSync(root, 0o755);
    redis = await startRedis({ port: await freePort(), logFile: join(root, 'redis.log') });
  }, startTimeoutMs);

  afterAll(async () => {
    await redis?.stop();
    if (root !== '') rmSync(root, { recursive: true, force: true });
  }, testTimeoutMs);

  it('answers PING, SET and GET', async () => {
    const client = new Redis(requireValue(redis).url, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
    try {
      await client.connect();
      expect(await client.ping()).toBe('PONG');
      expect(await client.set('region', 'eu-west')).toBe('OK');
      expect(await client.get('region')).toBe('eu-west');
      // No persistence was asked for.
      expect(await client.config('GET', 'save')).toEqual(['save', '']);
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    } finally {
      client.disconnect();
    }
  });

  it(
    'rejects with a ServiceStartError naming the log file when the port is taken',
    async () => {
      const blocker = await listenOnFreePort();
      const port = (blocker.address() as { port: number }).port;
      const logFile = join(root, 'blocked.log');
      try {
        const error = await startRedis({ port, logFile, deadlineMs: 10_000 }).then(
          () => undefined,
          (reason: unknown) => reason,
        );
        expect(error).toBeInstanceOf(ServiceStartError);
        expect((error as ServiceStartError).message).toContain(logFile);
        expect(readFileSync(logFile, 'utf8')).toMatch(/Address already in use/);
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    },
    testTimeoutMs,
  );

  it(
    'does not mistake another Redis on the port for its own',
    async () => {
      const logFile = join(root, 'second.log');
      const error = await startRedis({ port: requireValue(redis).port, logFile, deadlineMs: 10_000 }).then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(ServiceStartError);
      expect((error as ServiceStartError).message).toContain(logFile);
    },
    testTimeoutMs,
  );

  it(
    'leaves nothing listening after stop()',
    async () => {
      const running = requireValue(redis);
      await running.stop();
      expect(running.process.isRunning()).toBe(false);
      expect(await isListening(running.port)).toBe(false);
      await running.stop();
    },
    testTimeoutMs,
  );
});

function requireValue<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('an earlier step did not set this up');
  return value;
}

async function freePort(): Promise<number> {
  const server = await listenOnFreePort();
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function listenOnFreePort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
