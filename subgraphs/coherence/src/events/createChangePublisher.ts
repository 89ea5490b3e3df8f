import { coherenceChangedMessageSchema, type CoherenceChangedMessage } from '@coherence/contracts';
import type { Redis } from 'ioredis';

/** Publishes `CoherenceChanged` messages on one Redis pub/sub channel. */
export function createChangePublisher(redis: Redis, channel: string) {
  return async function publish(messages: readonly CoherenceChangedMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const pipeline = redis.pipeline();
    // Validated on the way out too: a malformed message would fail every subscriber instead of this one publisher.
    for (const message of messages) pipeline.publish(channel, JSON.stringify(coherenceChangedMessageSchema.parse(message)));
    await pipeline.exec();
  };
}

export type ChangePublisher = ReturnType<typeof createChangePublisher>;
