import type { CoherenceStatus } from '@coherence/contracts';

/** Per-source sums over a window: enough to compute every part of the score. */
export interface SourceAggregate {
  source: string;
  /** Σ weight·value of the source's signals in the window. */
  weightedSum: number;
  /** Σ weight. */
  weightSum: number;
  count: number;
}

export interface WeightedValue {
  source: string;
  value: number;
  weight: number;
}

export interface Coherence {
  score: number | null;
  status: CoherenceStatus;
  agreement: number | null;
  /** `weight` is the source's Σw in the window: its share of the score is weight / Σ of all weights. */
  sources: { source: string; score: number; count: number; weight: number }[];
}

/** Status thresholds on the (rounded) score, from docs/architecture.md ("The score"). */
export const HEALTHY_AT = 0.75;
export const WARN_AT = 0.5;

const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;

/**
 * A number on the [0, 1] scale as clients see it: rounded to 4 decimals, then
 * clamped. The inputs are already kept in [0, 1] (see `computeCoherence`), so
 * the clamp is the last line of defence for the read model's check
 * constraints, not a correction that ever changes a result.
 */
const toUnit = (x: number): number => Math.min(1, Math.max(0, round4(x)));

/**
 * A source's Σw as clients see it: rounded to 4 decimals while that is finite,
 * else the largest finite number (a Σw too large for a float, which only a
 * corrupt store can give, is still reported as a number).
 */
function toWeight(x: number): number {
  const rounded = round4(x);
  return Number.isFinite(rounded) ? rounded : Math.min(x, Number.MAX_VALUE);
}

/**
 * A power of two that brings `x` (> 0) down to about 1 (within a factor of
 * two), or 1 when `x` is below 2. Scaling only down cannot overflow, and
 * multiplying by a power of two only shifts the exponent: a sum of scaled
 * parts is the scaled plain sum exactly, so the score is the one plain sums
 * give whenever those are finite (up to parts more than 2^1000 times lighter
 * than the heaviest, which drop below the normal range and could not show at
 * 4 decimals anyway).
 */
function downScaleFor(x: number): number {
  const exponent = Math.floor(Math.log2(x));
  return exponent > 0 ? 2 ** -exponent : 1;
}

/**
 * Whether an aggregate holds weight that can be scored. Accepted signals always
 * give finite sums (weight ≤ MAX_SIGNAL_WEIGHT = 1e6: overflowing Σw would take
 * over 1e302 signals in one window), but a sum read from a store is not typed:
 * an Infinity or NaN there (a row written before the bound, the store's own
 * overflow) has no meaningful mean and would make every number of the score
 * NaN, which the read model's check constraints refuse on every retry. Such an
 * aggregate is left out, like one without weight.
 */
function isScorable(a: SourceAggregate): boolean {
  return a.count > 0 && a.weightSum > 0 && Number.isFinite(a.weightSum) && Number.isFinite(a.weightedSum);
}

export function statusOf(score: number | null): CoherenceStatus {
  if (score === null) return 'UNKNOWN';
  if (score >= HEALTHY_AT) return 'HEALTHY';
  if (score >= WARN_AT) return 'WARN';
  return 'CRITICAL';
}

/** Folds raw signals into per-source sums, in first-seen source order. */
export function aggregateBySource(signals: readonly WeightedValue[]): SourceAggregate[] {
  const bySource = new Map<string, SourceAggregate>();
  for (const { source, value, weight } of signals) {
    const aggregate = bySource.get(source) ?? { source, weightedSum: 0, weightSum: 0, count: 0 };
    aggregate.weightedSum += weight * value;
    aggregate.weightSum += weight;
    aggregate.count += 1;
    bySource.set(source, aggregate);
  }
  return [...bySource.values()];
}

/**
 * The coherence score (docs/architecture.md, "The score"): the weighted mean of
 * all signals in the window, the per-source weighted means and weights, and agreement =
 * 1 − (max − min) of those means. Agreement is taken from the unrounded
 * means; every reported number is then rounded to 4 decimals, and the status
 * is read off the rounded score so it always matches what clients see.
 * Aggregates naming the same source are summed first (a caller may aggregate
 * by finer keys), and sources are sorted by name so the output does not
 * depend on input order.
 *
 * Total: for any input every number is finite and in [0, 1]. Aggregates that
 * cannot be scored are left out (see `isScorable`); each part's Σw·v is kept
 * in [0, Σw], where it lies for values in [0, 1], so no mean can leave [0, 1];
 * sums are taken scaled down by a power of two so that adding finite sums
 * never overflows (see `downScaleFor`). Accepted signals never meet the first
 * two guards and the scaling leaves their score unchanged.
 */
export function computeCoherence(aggregates: readonly SourceAggregate[]): Coherence {
  const partsBySource = new Map<string, SourceAggregate[]>();
  for (const a of aggregates) {
    if (!isScorable(a)) continue;
    const parts = partsBySource.get(a.source) ?? [];
    // Σw·v ≤ Σw holds for sums of accepted signals (v ≤ 1, rounding is monotone); only float noise (a store
    // adding the two sums in different orders) or a corrupt sum is moved.
    parts.push({ ...a, weightedSum: Math.min(Math.max(a.weightedSum, 0), a.weightSum) });
    partsBySource.set(a.source, parts);
  }
  if (partsBySource.size === 0) return { score: null, status: 'UNKNOWN', agreement: null, sources: [] };

  // Per source its own scale, so a light source's mean keeps its precision next to a heavy one.
  const present = [...partsBySource].map(([source, parts]) => {
    const scale = downScaleFor(parts.reduce((max, p) => Math.max(max, p.weightSum), 0));
    let weightedSum = 0;
    let weightSum = 0;
    let count = 0;
    for (const part of parts) {
      weightedSum += part.weightedSum * scale;
      weightSum += part.weightSum * scale;
      count += part.count;
    }
    return { source, scale, weightedSum, weightSum, count, mean: weightedSum / weightSum };
  });
  // The heaviest source's scale (the smallest) for the totals; every ratio of two scales is a power of two ≤ 1.
  const scale = present.reduce((min, a) => Math.min(min, a.scale), 1);
  const weightedSum = present.reduce((sum, a) => sum + a.weightedSum * (scale / a.scale), 0);
  const weightSum = present.reduce((sum, a) => sum + a.weightSum * (scale / a.scale), 0);
  const means = present.map((a) => a.mean);
  // reduce, not Math.max(...means): a spread of a very large array overflows the call stack.
  const spread = means.reduce((max, m) => Math.max(max, m), 0) - means.reduce((min, m) => Math.min(min, m), 1);
  const score = toUnit(weightedSum / weightSum);
  return {
    score,
    status: statusOf(score),
    agreement: toUnit(1 - spread),
    // Names are unique after the grouping above, so the order is total.
    sources: present
      .map((a) => ({ source: a.source, score: toUnit(a.mean), count: a.count, weight: toWeight(a.weightSum / a.scale) }))
      .sort((x, y) => (x.source < y.source ? -1 : 1)),
  };
}
