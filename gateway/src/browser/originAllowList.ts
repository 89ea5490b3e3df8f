/**
 * Whether a request's `Origin` may reach the gateway: an exact match against
 * the allow-list (GATEWAY_CORS_ORIGINS). No Origin at all is a non-browser
 * client, which CORS does not concern; `null` (sandboxed frames, file pages)
 * and anything not listed is refused.
 */
export function createOriginAllowList(origins: readonly string[]) {
  const allowed = new Set(origins);
  return {
    /** The `Origin` header is absent (not a browser) or listed. */
    admits: (origin: string | undefined): boolean => origin === undefined || allowed.has(origin),
    /** The `Origin` header is listed: a browser page may read the answer. */
    lists: (origin: string | undefined): boolean => origin !== undefined && allowed.has(origin),
  };
}

export type OriginAllowList = ReturnType<typeof createOriginAllowList>;
