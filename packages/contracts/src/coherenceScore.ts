import { z } from 'zod';
import { boundedString, isoDateTimeSchema, isoDurationSchema, tenantIdSchema, unitIntervalSchema } from './scalars';

/** The four statuses, from best to "no data". */
export const COHERENCE_STATUSES = ['HEALTHY', 'WARN', 'CRITICAL', 'UNKNOWN'] as const;

/** `HEALTHY` (score ≥ 0.75), `WARN` (≥ 0.5), `CRITICAL` (< 0.5), `UNKNOWN` (no signals in the window). */
export const coherenceStatusSchema = z.enum(COHERENCE_STATUSES);

/** See {@link coherenceStatusSchema}. */
export type CoherenceStatus = z.output<typeof coherenceStatusSchema>;

/** The default scoring window (24 hours). */
export const DEFAULT_COHERENCE_WINDOW = 'PT24H';

/** One source's share of a score: its own weighted mean, how many signals it had in the window and their weight. */
export const sourceScoreSchema = z.strictObject({
  source: boundedString(128),
  score: unitIntervalSchema,
  /** A source only appears when it has at least one signal in the window. */
  count: z.int().min(1),
  /**
   * Σ of the source's signal weights in the window, 4 decimals: its share of the
   * score is this over the sum of all sources' weights. Optional: scores and
   * CoherenceChanged messages written before it was recorded stay valid.
   */
  weight: z.number().min(0).optional(),
});

/** See {@link sourceScoreSchema}. */
export type SourceScore = z.output<typeof sourceScoreSchema>;

/**
 * A tenant's coherence score as of `updatedAt` over `window`; the read model
 * row and the GraphQL `CoherenceScore`.
 *
 * Beyond field types it enforces what "no signals" means, so a half-empty
 * score cannot travel: `score`, `agreement` are null, `status` is UNKNOWN and
 * `sources` is empty — all together or none (rule `consistency`).
 */
export const coherenceScoreSchema = z
  .strictObject({
    tenantId: tenantIdSchema,
    /** Σ(w·v)/Σw rounded to 4 decimals; null when the window holds no signal. */
    score: unitIntervalSchema.nullable(),
    status: coherenceStatusSchema,
    /** 1 − (max − min) of the per-source means; null when the window holds no signal. */
    agreement: unitIntervalSchema.nullable(),
    /** ISO-8601 duration, e.g. `PT24H`. */
    window: isoDurationSchema,
    updatedAt: isoDateTimeSchema,
    /**
     * The instant the score was computed as of (its window ends there).
     * Optional: CoherenceChanged messages written before it was carried stay valid.
     */
    asOf: isoDateTimeSchema.optional(),
    sources: z.array(sourceScoreSchema),
  })
  .superRefine((value, ctx) => {
    const empty = value.score === null;
    const mismatch = (path: string, message: string): void => {
      ctx.addIssue({ code: 'custom', path: [path], message, params: { rule: 'consistency' } });
    };
    if ((value.status === 'UNKNOWN') !== empty) {
      mismatch('status', empty ? 'Must be UNKNOWN when score is null' : 'Must not be UNKNOWN when score is set');
    }
    if ((value.agreement === null) !== empty) {
      mismatch('agreement', empty ? 'Must be null when score is null' : 'Must be set when score is set');
    }
    if ((value.sources.length === 0) !== empty) {
      mismatch('sources', empty ? 'Must be empty when score is null' : 'Must not be empty when score is set');
    }
  });

/** See {@link coherenceScoreSchema}. */
export type CoherenceScore = z.output<typeof coherenceScoreSchema>;
