import { useEffect } from 'react';
import { RefusalError } from './refusals';

/** How long to wait before asking again after this error: a refusal's Retry-After, or undefined (do not retry by itself). */
export function retryDelayMs(error: unknown): number | undefined {
  if (!(error instanceof RefusalError)) return undefined;
  const seconds = error.refusal.retryAfterSeconds;
  return seconds === undefined ? undefined : Math.max(1, seconds) * 1_000;
}

/** After a 429 (or a 503 with Retry-After), asks again once the gateway's delay has passed, and not before. */
export function useRetryAfter(error: unknown, retry: () => void) {
  useEffect(() => {
    const delay = retryDelayMs(error);
    if (delay === undefined) return undefined;
    const timer = setTimeout(retry, delay);
    return () => clearTimeout(timer);
  }, [error, retry]);
}
