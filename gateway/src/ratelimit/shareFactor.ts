/** The smallest share a tenant keeps under any pressure, so nobody is starved outright. */
export const MIN_SHARE = 0.1;

export interface Saturation {
  inFlight: number;
  maxInFlight: number;
  loopDelayMs: number;
  maxLoopDelayMs: number;
}

/**
 * The factor every tenant's rate is multiplied by: 1 while the gateway is
 * under both bounds, else the inverse of the worst overshoot (twice the
 * in-flight bound → half the rate), never below {@link MIN_SHARE}. One
 * factor for all keeps the shares proportional to the weights: load is shed
 * from every tenant in proportion to its share instead of failing everyone.
 */
export function shareFactor(saturation: Saturation): number {
  const pressure = Math.max(saturation.inFlight / saturation.maxInFlight, saturation.loopDelayMs / saturation.maxLoopDelayMs);
  return pressure <= 1 ? 1 : Math.max(MIN_SHARE, 1 / pressure);
}
