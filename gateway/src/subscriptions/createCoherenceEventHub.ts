import { decodeCoherenceChangedMessage, type CoherenceChanged } from '@coherence/contracts';
import type { Logger } from '@coherence/platform';
import { Redis } from 'ioredis';

export interface CoherenceEventHubOptions {
  redisUrl: string;
  channel: string;
  /** Changes of one tenant within this window are delivered once, as the latest. */
  coalesceMs: number;
  logger: Logger;
  /** Called for every event handed to a subscriber, with the time since the relay committed it. */
  onDelivered?: (latencyMs: number) => void;
}

type Listener = (change: CoherenceChanged) => void;

/**
 * One Redis subscription for the whole process, fanned out to every
 * `coherenceEvents` subscriber in memory. Per tenant, changes arriving within
 * `coalesceMs` of the first are delivered once, as the latest: a burst of
 * recomputes (a big ingest) becomes one event per window, never a stale one.
 */
export function createCoherenceEventHub(options: CoherenceEventHubOptions) {
  const listeners = new Map<string, Set<Listener>>();
  const pending = new Map<string, CoherenceChanged>();
  const timers = new Map<string, NodeJS.Timeout>();
  let redis: Redis | undefined;

  function flush(tenantId: string): void {
    timers.delete(tenantId);
    const change = pending.get(tenantId);
    pending.delete(tenantId);
    if (!change) return;
    for (const listener of listeners.get(tenantId) ?? []) listener(change);
  }

  function onMessage(_channel: string, text: string): void {
    const message = decodeCoherenceChangedMessage(text);
    if (!message) {
      options.logger.warn({ channel: options.channel }, 'ignored a message that is not a CoherenceChanged');
      return;
    }
    const change = message.payload;
    if (!listeners.has(change.tenantId)) return;
    pending.set(change.tenantId, change);
    if (!timers.has(change.tenantId)) timers.set(change.tenantId, setTimeout(flush, options.coalesceMs, change.tenantId));
  }

  let subscribing: Promise<void> | undefined;

  /**
   * Lazily, so a gateway nobody subscribes to never needs Redis. Once
   * subscribed, ioredis reconnects and subscribes again by itself after Redis
   * comes back; a first subscribe that fails (Redis down at that moment) is
   * forgotten, so the next subscriber tries again rather than finding a hub
   * that never subscribed (docs/runbooks/drills/redis-down.md).
   */
  function ensureSubscribed(): Promise<void> {
    subscribing ??= (async () => {
      const client = new Redis(options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
      redis = client;
      client.on('error', (err) => options.logger.warn({ err }, 'redis subscriber connection error'));
      client.on('message', onMessage);
      try {
        await client.connect();
        await client.subscribe(options.channel);
      } catch (error) {
        client.disconnect();
        if (redis === client) redis = undefined;
        subscribing = undefined;
        throw error;
      }
    })();
    return subscribing;
  }

  return {
    ensureSubscribed,
    /** The tenant's changes from now on; a slow consumer gets the newest, not a backlog. */
    subscribe(tenantId: string): AsyncIterableIterator<CoherenceChanged> {
      let latest: CoherenceChanged | undefined;
      let wake: (() => void) | undefined;
      let done = false;
      const listener: Listener = (change) => {
        latest = change;
        wake?.();
      };
      const own = listeners.get(tenantId) ?? new Set<Listener>();
      own.add(listener);
      listeners.set(tenantId, own);
      const stop = () => {
        done = true;
        own.delete(listener);
        if (own.size === 0) listeners.delete(tenantId);
        wake?.();
      };
      return {
        [Symbol.asyncIterator]() {
          return this;
        },
        async next(): Promise<IteratorResult<CoherenceChanged>> {
          while (!done && !latest) await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          if (done || !latest) return { done: true, value: undefined };
          const change = latest;
          latest = undefined;
          options.onDelivered?.(Date.now() - Date.parse(change.changedAt));
          return { done: false, value: change };
        },
        async return(): Promise<IteratorResult<CoherenceChanged>> {
          stop();
          return { done: true, value: undefined };
        },
      };
    },
    subscriberCount: () => [...listeners.values()].reduce((n, set) => n + set.size, 0),
    async close(): Promise<void> {
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      redis?.disconnect();
      redis = undefined;
      subscribing = undefined;
    },
  };
}

export type CoherenceEventHub = ReturnType<typeof createCoherenceEventHub>;
