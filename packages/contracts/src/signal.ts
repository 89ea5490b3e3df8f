import { z } from 'zod';
import { boundedString, isoDateTimeSchema, tenantIdSchema, unitIntervalSchema } from './scalars';

/** How far ahead of the receiver's clock a signal's `ts` may lie, by default (5 minutes). */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 300_000;

/**
 * Largest `weight` a signal may carry: far above any useful ratio between two
 * signals, and small enough that Σ weight·value and Σ weight over a window
 * stay finite (overflowing a double would take more than 1e302 signals).
 */
export const MAX_SIGNAL_WEIGHT = 1_000_000;

/**
 * Smallest `weight` a signal may carry. Below about 1e-304 the product
 * weight × value loses its precision (subnormal doubles), so a tiny weight
 * with value 0.5 would score 0; 1e-6 keeps the range symmetric with
 * {@link MAX_SIGNAL_WEIGHT}: 12 decades between the lightest and heaviest signal.
 */
export const MIN_SIGNAL_WEIGHT = 0.000_001;

/**
 * A signal's weight: finite, in [{@link MIN_SIGNAL_WEIGHT}, {@link MAX_SIGNAL_WEIGHT}].
 * Zero or negative is rule `positive` (and only that: `abort`), a positive
 * weight below the minimum is `min`, above the maximum `max`.
 */
const signalWeightSchema = z
  .number()
  .positive({ error: 'Must be greater than 0', abort: true })
  .min(MIN_SIGNAL_WEIGHT, { error: `Must be at least ${MIN_SIGNAL_WEIGHT}` })
  .max(MAX_SIGNAL_WEIGHT, { error: `Must be at most ${MAX_SIGNAL_WEIGHT}` });

/**
 * Where a signal may be used and kept. Attached by the producer or, when absent,
 * by ingest from the tenant's defaults before the signal is stored.
 */
export const provenanceSchema = z.strictObject({
  /** Why the data was collected, e.g. `monitoring`. */
  purpose: boundedString(256),
  /** Retention class or period, e.g. `P90D`. */
  retention: boundedString(256),
  /** Licence under which the producer shares the data. */
  license: boundedString(256),
  /** Region tag the data must stay in, e.g. `eu`. */
  residency: boundedString(256),
});

/** See {@link provenanceSchema}. */
export type Provenance = z.output<typeof provenanceSchema>;

// One shape shared by the clock-free and the clock-checked schemas so that both
// always describe the same Signal.
const signalShape = {
  tenantId: tenantIdSchema,
  /** The producer, e.g. `billing-api`. */
  source: boundedString(128),
  /** Producer-chosen id; with tenantId, source and ts it forms the dedupe key. */
  signalId: boundedString(256),
  /**
   * Observation time, ISO-8601 with a zone. Kept exactly as sent (not
   * normalised): stores that key on it must compare instants, not strings.
   */
  ts: isoDateTimeSchema,
  /** What is measured, e.g. `latency_slo`. */
  type: boundedString(128),
  /** The observation, in [0, 1]. */
  value: unitIntervalSchema,
  /** Weight in the tenant's weighted mean; in [1e-6, 1e6] (see {@link signalWeightSchema}), default 1. */
  weight: signalWeightSchema.default(1),
  /** Optional on input; ingest attaches one before storing (see `acceptedSignalSchema`). */
  provenance: provenanceSchema.optional(),
};

/**
 * One signal as producers send it (HTTP batch element or Kafka record value).
 * Strict: unknown fields are rejected. Does not look at the clock; receivers
 * use {@link createSignalSchema} to also refuse timestamps from the future.
 */
export const signalSchema = z.strictObject(signalShape);

/** A validated signal (`weight` defaulted to 1). */
export type Signal = z.output<typeof signalSchema>;

/** A signal as a producer may write it (`weight` optional). */
export type SignalInput = z.input<typeof signalSchema>;

/** Clock settings for the future-timestamp check. */
export interface SignalClockOptions {
  /** The receiver's clock. Default: `() => new Date()`. Inject a fixed clock in tests. */
  now?: () => Date;
  /** How far `ts` may lie ahead of `now()`, in ms. Default {@link DEFAULT_MAX_FUTURE_SKEW_MS} (300_000). */
  maxFutureSkewMs?: number;
}

/**
 * {@link signalSchema} plus the clock check: a `ts` more than `maxFutureSkewMs`
 * after `now()` is rejected at `ts` with rule `not_future`. `now()` is read on
 * every parse, so one schema can live for the whole process.
 */
export function createSignalSchema(options: SignalClockOptions = {}) {
  return z.strictObject({ ...signalShape, ts: notInFutureDateTime(options) });
}

function notInFutureDateTime(options: SignalClockOptions) {
  const now = options.now ?? (() => new Date());
  const maxFutureSkewMs = options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  return isoDateTimeSchema.superRefine((ts, ctx) => {
    // A malformed ts is already reported as `format`; Date.parse would happily
    // roll 2024-02-30 over to March and produce a second, misleading issue.
    if (ctx.issues.length > 0) return;
    const instant = Date.parse(ts);
    const limit = now().getTime() + maxFutureSkewMs;
    if (instant > limit) {
      ctx.addIssue({
        code: 'custom',
        message: `Must not be more than ${maxFutureSkewMs} ms in the future`,
        params: { rule: 'not_future' },
      });
    }
  });
}

/**
 * A signal after ingest accepted it: provenance attached, weight resolved and
 * the receive time recorded. This is what the ledger stores and what the
 * `SignalsAccepted` outbox event carries to the graph projection.
 */
export const acceptedSignalSchema = signalSchema.extend({
  weight: signalWeightSchema,
  provenance: provenanceSchema,
  /** When ingest received the signal (server clock). */
  receivedAt: isoDateTimeSchema,
});

/** See {@link acceptedSignalSchema}. */
export type AcceptedSignal = z.output<typeof acceptedSignalSchema>;
