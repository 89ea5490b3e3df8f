import { decodeCoherenceChangedMessage, type CoherenceChangedMessage } from '@coherence/contracts';
import type { Logger } from '@coherence/platform';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ResponseCache } from './createResponseCache';

export interface CacheInvalidationOptions {
  redisUrl: string;
  /** Where the relay publishes `CoherenceChanged` messages. */
  channel: string;
  cache: Pick<ResponseCache, 'invalidate' | 'invalidateAll'>;
  /** Told of each change before its tenant's entries are invalidated. */
  onChange?: (message: CoherenceChangedMessage) => void;
  logger: Logger;
}

/**
 * Invalidates a tenant's cached reads on each `CoherenceChanged`. Pub/sub
 * keeps nothing for a disconnected subscriber, so after a reconnect every
 * entry is invalidated: changes published meanwhile are unknown. Connects in
 * the background; a gateway whose Redis is down still starts.
 */
const DROP_ATTEMPTS = 20;
const DROP_RETRY_MS = 250;

export function subscribeCacheInvalidation(options: CacheInvalidationOptions) {
  const { logger } = options;
  const subscriber = new Redis(options.redisUrl, {
    maxRetriesPerRequest: null,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  });
  let readyBefore = false;
  let lost = false;
  let closing = false;
  const markLost = (err?: unknown) => {
    if (lost || closing) return;
    lost = true;
    logger.warn({ err }, 'cache invalidation feed lost; every cached read is dropped when it is back');
  };
  /** The cache's own connection may come back a little later than this one: retry for a few seconds. */
  async function dropEverything(): Promise<void> {
    for (let attempt = 0; attempt < DROP_ATTEMPTS && !closing; attempt += 1) {
      if (await options.cache.invalidateAll()) return;
      await sleep(DROP_RETRY_MS);
    }
    logger.error('could not drop the cached reads after the invalidation feed came back; they expire by their TTL');
  }
  subscriber.on('error', markLost);
  subscriber.on('close', () => readyBefore && markLost());
  subscriber.on('ready', () => {
    if (readyBefore) void dropEverything();
    if (lost) logger.info('cache invalidation feed is back');
    readyBefore = true;
    lost = false;
  });
  subscriber.on('message', (_channel: string, text: string) => {
    const message = decodeCoherenceChangedMessage(text);
    if (!message) {
      logger.warn({ channel: options.channel }, 'cache invalidation ignored a message that is not a CoherenceChanged');
      return;
    }
    options.onChange?.(message);
    void options.cache.invalidate(message.tenantId);
  });
  // Not awaited: with Redis down this would wait for it; ioredis resubscribes after every reconnect.
  subscriber.subscribe(options.channel).catch((err: unknown) => logger.warn({ err }, 'cache invalidation could not subscribe'));

  return {
    async close(): Promise<void> {
      closing = true;
      subscriber.disconnect();
    },
  };
}
