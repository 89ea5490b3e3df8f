/**
 * The few calls of Jaeger's HTTP query API (`/api/traces`) that `npm run trace`
 * and the trace test need. The API is the one the Jaeger UI itself uses; it is
 * served on the query port (16686 in the stack) by every Jaeger build,
 * including ours, whose UI page has no assets (docs/adr/0020-traces.md).
 */

export interface JaegerTag {
  key: string;
  type?: string;
  value: unknown;
}

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  processID: string;
  references: { refType: string; traceID?: string; spanID: string }[];
  /** Microseconds since the epoch. */
  startTime: number;
  /** Microseconds. */
  duration: number;
  tags: JaegerTag[];
}

export interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

export class JaegerQueryError extends Error {
  override name = 'JaegerQueryError';
}

/** Jaeger's answer to `/api/traces…`: traces, or errors in the body (with a non-2xx status). */
interface JaegerAnswer {
  data: JaegerTrace[] | null;
  errors?: { code: number; msg: string }[] | null;
}

async function askJaeger(url: URL): Promise<JaegerAnswer & { status: number }> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    throw new JaegerQueryError(`cannot reach Jaeger's query API at ${url.origin}: ${(error as Error).message}`);
  }
  const text = await response.text();
  try {
    return { status: response.status, ...(JSON.parse(text) as JaegerAnswer) };
  } catch {
    throw new JaegerQueryError(
      `${url.origin} answered ${response.status} with something that is not Jaeger's query API: ${text.slice(0, 200)}`,
    );
  }
}

/** One trace by its 32-hex-digit id, or undefined when Jaeger has no span of it (not sampled, not yet exported, or expired). */
export async function fetchJaegerTrace(queryUrl: string, traceId: string): Promise<JaegerTrace | undefined> {
  const answer = await askJaeger(new URL(`/api/traces/${encodeURIComponent(traceId)}`, queryUrl));
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) throw new JaegerQueryError(`Jaeger answered ${answer.status}: ${answer.errors?.map((e) => e.msg).join('; ')}`);
  return answer.data?.[0];
}

/** The most recent traces with a span of `service`, newest first. */
export async function findJaegerTraces(
  queryUrl: string,
  query: { service: string; limit: number; lookbackMinutes: number },
): Promise<JaegerTrace[]> {
  const url = new URL('/api/traces', queryUrl);
  url.searchParams.set('service', query.service);
  url.searchParams.set('limit', String(query.limit));
  url.searchParams.set('lookback', `${query.lookbackMinutes}m`);
  const answer = await askJaeger(url);
  if (answer.status !== 200) throw new JaegerQueryError(`Jaeger answered ${answer.status}: ${answer.errors?.map((e) => e.msg).join('; ')}`);
  return [...(answer.data ?? [])].sort((a, b) => rootStart(b) - rootStart(a));
}

/** The services Jaeger has spans of. */
export async function listJaegerServices(queryUrl: string): Promise<string[]> {
  const url = new URL('/api/services', queryUrl);
  const answer = (await askJaeger(url)) as unknown as { status: number; data: string[] | null };
  return [...(answer.data ?? [])].sort();
}

export function rootStart(trace: JaegerTrace): number {
  return Math.min(...trace.spans.map((span) => span.startTime));
}
