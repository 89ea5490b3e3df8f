import { RefusalError, refusalOf } from './refusals';

export interface GatewayFetchOptions {
  fetch: typeof fetch;
  now: () => number;
}

/**
 * The fetch Apollo's HTTP link and the status view use: every non-2xx answer
 * becomes a {@link RefusalError}, and after a 429 (or a 503 with
 * `Retry-After`) no request leaves until the gateway's delay has passed: the
 * caller gets the same refusal, with the time left, without a round trip.
 */
export function createGatewayFetch(options: GatewayFetchOptions): typeof fetch {
  let blocked: { untilMs: number; error: RefusalError } | undefined;
  return async (input, init) => {
    if (blocked !== undefined) {
      const leftMs = blocked.untilMs - options.now();
      if (leftMs > 0) {
        const { refusal } = blocked.error;
        throw new RefusalError({ ...refusal, retryAfterSeconds: Math.ceil(leftMs / 1_000) });
      }
      blocked = undefined;
    }
    const response = await options.fetch(input, init);
    if (response.ok) return response;
    const body: unknown = await response.json().catch(() => null);
    const error = new RefusalError(refusalOf(response.status, response.headers, body, options.now()));
    const { retryAfterSeconds } = error.refusal;
    if (retryAfterSeconds !== undefined && retryAfterSeconds > 0) blocked = { untilMs: options.now() + retryAfterSeconds * 1_000, error };
    throw error;
  };
}
