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
  sources: { source: string; score: number; count: number }[];
}

/** Status thresholds on the (rounded) score, from ARCHITECTURE.md. */
export const HEALTHY_AT = 0.75;
export const WARN_AT = 0.5;

const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;

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
 * The coherence score (ARCHITECTURE.md, "Data model"): the weighted mean of
 * all signals in the window, the per-source weighted means, and agreement =
 * 1 − (max − min) of those means. Agreement is taken from the unrounded
 * means; every reported number is then rounded to 4 decimals, and the status
 * is read off the rounded score so it always matches what clients see.
 * Aggregates naming the same source are summed first (a caller may aggregate
 * by finer keys), and sources are sorted by name so the output does not
 * depend on input order.
 */
export function computeCoherence(aggregates: readonly SourceAggregate[]): Coherence {
  const bySource = new Map<string, SourceAggregate>();
  for (const a of aggregates) {
    if (a.count <= 0 || a.weightSum <= 0) continue;
    const merged = bySource.get(a.source);
    bySource.set(
      a.source,
      merged
        ? {
            source: a.source,
            weightedSum: merged.weightedSum + a.weightedSum,
            weightSum: merged.weightSum + a.weightSum,
            count: merged.count + a.count,
          }
        : a,
    );
  }
  const present = [...bySource.values()];
  if (present.length === 0) return { score: null, status: 'UNKNOWN', agreement: null, sources: [] };

  const weightedSum = present.reduce((sum, a) => sum + a.weightedSum, 0);
  const weightSum = present.reduce((sum, a) => sum + a.weightSum, 0);
  const means = present.map((a) => a.weightedSum / a.weightSum);
  const score = round4(weightedSum / weightSum);
  return {
    score,
    status: statusOf(score),
    agreement: round4(1 - (Math.max(...means) - Math.min(...means))),
    // Names are unique after the merge above, so the order is total.
    sources: present
      .map((a) => ({ source: a.source, score: round4(a.weightedSum / a.weightSum), count: a.count }))
      .sort((x, y) => (x.source < y.source ? -1 : 1)),
  };
}
