import type { ApplicationProcess, DrillContext } from '../../scenario';

/**
 * The sum of every series of `name` whose labels include `labels`, as the
 * process exposes it now: from its admin listener when the runner gave one
 * (context.adminUrls), else from Prometheus. Undefined when no series matches
 * or the process does not answer (it may be the one the fault took away).
 */
export async function readMetric(
  context: DrillContext,
  process: ApplicationProcess,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Promise<number | undefined> {
  const adminUrl = context.adminUrls?.[process];
  try {
    return adminUrl === undefined ? await fromPrometheus(context.prometheusUrl, name, labels) : await fromAdmin(adminUrl, name, labels);
  } catch {
    return undefined;
  }
}

async function fromAdmin(adminUrl: string, name: string, labels: Readonly<Record<string, string>>): Promise<number | undefined> {
  const response = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) return undefined;
  return sumOfSeries(await response.text(), name, labels);
}

/** Sums the matching series of the Prometheus text exposition format. */
export function sumOfSeries(text: string, name: string, labels: Readonly<Record<string, string>>): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const seriesLabels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (!Object.entries(labels).every(([key, value]) => seriesLabels[key] === value)) continue;
    sum = (sum ?? 0) + Number(match[3]);
  }
  return sum;
}

async function fromPrometheus(prometheusUrl: string, name: string, labels: Readonly<Record<string, string>>): Promise<number | undefined> {
  const selector = Object.entries(labels)
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
    .join(',');
  const query = encodeURIComponent(`sum(${name}{${selector}})`);
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${query}`, { signal: AbortSignal.timeout(5_000) });
  if (!response.ok) return undefined;
  const body = (await response.json()) as { data?: { result?: { value: [number, string] }[] } };
  const value = body.data?.result?.[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

/** Whether the process's /readyz answers 200 now (false when it does not answer at all). */
export async function isReady(context: DrillContext, process: ApplicationProcess): Promise<boolean | undefined> {
  const adminUrl = context.adminUrls?.[process];
  if (adminUrl === undefined) return undefined;
  try {
    return (await fetch(`${adminUrl}/readyz`, { signal: AbortSignal.timeout(5_000) })).ok;
  } catch {
    return false;
  }
}

/** Drops the entries whose value is unknown, so the report shows only what was seen. */
export function seen(observations: Record<string, string | number | boolean | undefined>): Record<string, string | number | boolean> {
  return Object.fromEntries(Object.entries(observations).filter(([, value]) => value !== undefined)) as Record<
    string,
    string | number | boolean
  >;
}
