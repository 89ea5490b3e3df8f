import { addressKey } from './addressKey';
import { createLocalGcra, type GcraBucket } from './createLocalGcra';

export interface RefusalThrottleOptions {
  /** Refusals an address may earn per second, sustained… */
  refusalsPerSecond: number;
  /** …and at once. */
  burst: number;
  /** Monotonic milliseconds; `performance.now` but in tests. */
  nowMs?: () => number;
}

/**
 * A bucket per client address (in-process GCRA, keyed by {@link addressKey})
 * that only refusals spend: a service asks `retryAfterSeconds` before any
 * work and answers 429 while it is not 0, and `charge`s each refusal it
 * answers. So an address earns refusals at `refusalsPerSecond` at most,
 * after a `burst`, and well-behaved clients, however many requests they send,
 * are never charged. A request is let in before the refusals in flight are
 * charged, so concurrent requests may overshoot the burst by as many. The
 * state is this process's: N instances allow N times the rate.
 */
export function createRefusalThrottle(options: RefusalThrottleOptions) {
  const nowMs = options.nowMs ?? (() => performance.now());
  const gcra = createLocalGcra(() => nowMs() * 1_000);
  const emissionMicros = 1e6 / options.refusalsPerSecond;
  /** The address's bucket, one refusal's worth. */
  const bucketOf = (address: string): GcraBucket[] => [{ key: addressKey(address), emissionMicros, burst: options.burst, cost: 1 }];
  return {
    /** Whole seconds until `address` may be served again; 0 while it may. */
    retryAfterSeconds(address: string): number {
      const [waitMicros = 0] = gcra.peek(bucketOf(address));
      return waitMicros === 0 ? 0 : Math.ceil(waitMicros / 1e6);
    },
    /** Spends one refusal of `address`'s bucket. */
    charge(address: string): void {
      gcra.consume(bucketOf(address));
    },
  };
}

export type RefusalThrottle = ReturnType<typeof createRefusalThrottle>;
