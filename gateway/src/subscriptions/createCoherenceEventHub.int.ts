import { freePort, startRedis, type RunningRedis } from '@coherence/devservices';
import { createLogger } from '@coherence/platform';
import { coherenceChangedFor } from '@coherence/testkit';
import { Redis } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { createCoherenceEventHub } from './createCoherenceEventHub';

// A Redis of this file's own, started late and stopped on purpose: the global setup's is shared by other files.
const root = mkdtempSync(join(tmpdir(), 'gateway-event-hub-'));
const channel = 'hub-test:coherence.changed';
let redis: RunningRedis | undefined;

afterAll(async () => {
  await redis?.stop();
  rmSync(root, { recursive: true, force: true });
});

it('a first subscriber while Redis is down is refused, and the next one, once it is back, gets changes (also after a restart)', async () => {
  const port = await freePort();
  const hub = createCoherenceEventHub({
    redisUrl: `redis://127.0.0.1:${port}`,
    channel,
    coalesceMs: 10,
    logger: createLogger('test', 'silent'),
  });
  const publisher = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await expect(hub.ensureSubscribed()).rejects.toThrow();

    redis = await startRedis({ port, logFile: join(root, 'redis.log') });
    await hub.ensureSubscribed();
    await publisher.connect();
    const changes = hub.subscribe('acme');
    await publisher.publish(channel, JSON.stringify(coherenceChangedFor({ tenantId: 'acme', score: 0.4 })));
    expect((await changes.next()).value).toMatchObject({ current: { score: 0.4 } });

    // Redis restarts: the hub's connection subscribes again by itself.
    await redis.stop();
    redis = await startRedis({ port, logFile: join(root, 'redis.log') });
    const next = changes.next();
    let received: Awaited<typeof next> | undefined;
    void next.then((result) => (received = result));
    const deadline = Date.now() + 30_000;
    while (received === undefined && Date.now() < deadline) {
      await publisher.publish(channel, JSON.stringify(coherenceChangedFor({ tenantId: 'acme', score: 0.6 }))).catch(() => 0);
      await sleep(200);
    }
    expect(received?.value).toMatchObject({ current: { score: 0.6 } });
    await changes.return?.();
  } finally {
    publisher.disconnect();
    await hub.close();
  }
}, 90_000);
