import { z } from 'zod';
import { createSignalSchema, signalSchema, type SignalClockOptions } from './signal';

/** Most signals one HTTP batch may carry, by default. */
export const DEFAULT_MAX_SIGNALS_PER_BATCH = 1000;

/**
 * Body of `POST /v1/signals`: `{ signals: Signal[] }` with 1..1000 items.
 * Strict. Clock-free; receivers use {@link createSignalBatchSchema}.
 */
export const signalBatchSchema = z.strictObject({
  signals: z.array(signalSchema).min(1).max(DEFAULT_MAX_SIGNALS_PER_BATCH),
});

/** A validated batch (every `weight` defaulted). */
export type SignalBatch = z.output<typeof signalBatchSchema>;

/** A batch as a producer may write it. */
export type SignalBatchInput = z.input<typeof signalBatchSchema>;

/** Options for {@link createSignalBatchSchema}. */
export interface SignalBatchSchemaOptions extends SignalClockOptions {
  /** Most signals per batch; more is rule `too_many` at `signals`. Default {@link DEFAULT_MAX_SIGNALS_PER_BATCH} (1000). */
  maxSignals?: number;
}

/**
 * The batch schema a receiver should use: {@link signalBatchSchema} with a
 * configurable size limit and the `not_future` clock check on every `ts`.
 */
export function createSignalBatchSchema(options: SignalBatchSchemaOptions = {}) {
  const { maxSignals = DEFAULT_MAX_SIGNALS_PER_BATCH, ...clock } = options;
  return z.strictObject({
    signals: z.array(createSignalSchema(clock)).min(1).max(maxSignals),
  });
}
