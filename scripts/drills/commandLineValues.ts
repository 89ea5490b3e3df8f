import type { LoadRates } from './load';

const UNITS_MS = { ms: 1, s: 1_000, m: 60_000 } as const;

/** `500ms`, `20s`, `10m` in ms; null when unreadable. */
export function parseDuration(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (!match) return null;
  return Math.round(Number(match[1]) * UNITS_MS[match[2] as keyof typeof UNITS_MS]);
}

/** `http=50,kafka=500` → the rates given (per second, each ≥ 0); null when a kind is unknown or a rate unreadable. */
export function parseRates(text: string): Partial<LoadRates> | null {
  const kinds: readonly string[] = ['http', 'kafka', 'reads', 'notifications'];
  const rates: Partial<LoadRates> = {};
  for (const part of text.split(',')) {
    const [kind, value] = part.split('=').map((s) => s.trim());
    const rate = Number(value);
    if (kind === undefined || !kinds.includes(kind) || value === undefined || value === '' || !Number.isFinite(rate) || rate < 0)
      return null;
    rates[kind as keyof LoadRates] = rate;
  }
  return rates;
}
