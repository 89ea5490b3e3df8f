import { createLocalGcra, type GcraBucket } from '@coherence/ratelimit';
import { Counter, type Registry } from 'prom-client';
import { addressKey } from '../ratelimit/addressKey';
import { refusal, type GatewayStep } from './GatewayStep';

export interface RefusalThrottleOptions {
  /** Refusals an address may earn per second, sustained… */
  refusalsPerSecond: number;
  /** …and at once. */
  burst: number;
  metrics: Registry;
  /** Monotonic milliseconds; `performance.now` but in tests. */
  nowMs?: () => number;
}

/**
 * Throttles client addresses that keep earning refusals, before any other
 * work (docs/adr/0009). Every refusal of the pipeline (bad token, unknown
 * persisted id, policy denial, …) spends one from the address's bucket
 * (in-process GCRA, keyed by {@link addressKey}); while it is empty, every
 * request from that address is RATE_LIMITED here: no token is verified, no
 * tenant read and no audit row queued for it. So an address earns refusals
 * at `refusalsPerSecond` at most, after a `burst`.
 * Well-behaved clients, however many requests they send, are never charged.
 * The state is this process's: N gateway instances allow N times the rate.
 */
export function useRefusalThrottle(options: RefusalThrottleOptions): GatewayStep {
  const nowMs = options.nowMs ?? (() => performance.now());
  const gcra = createLocalGcra(() => nowMs() * 1_000);
  const emissionMicros = 1e6 / options.refusalsPerSecond;
  /** The address's bucket, one refusal's worth. */
  const bucketOf = (sourceIp: string): GcraBucket[] => [{ key: addressKey(sourceIp), emissionMicros, burst: options.burst, cost: 1 }];
  const throttled = new Counter({
    name: 'gateway_refusal_throttled_total',
    help: 'Requests refused RATE_LIMITED before authentication because their address kept earning refusals.',
    registers: [options.metrics],
  });

  return {
    name: 'refusal-throttle',
    onRequest(context) {
      const [waitMicros = 0] = gcra.peek(bucketOf(context.sourceIp));
      if (waitMicros === 0) return undefined;
      throttled.inc();
      const retryAfterSeconds = Math.ceil(waitMicros / 1e6);
      return refusal('RATE_LIMITED', `too many refused requests from this address; retry in ${retryAfterSeconds} s`, {
        retryAfterSeconds,
      });
    },
    onRefused(context, refused) {
      // Its own 429s are not charged again, nor the limiter's: they are what the throttle and the limiter answer.
      if (refused.code === 'RATE_LIMITED') return;
      gcra.consume(bucketOf(context.sourceIp));
    },
  };
}
