/** Query parameters a token is refused in, compared without case: `?Access_Token=` leaks the same. */
const TOKEN_QUERY_NAMES = new Set(['access_token', 'token', 'jwt', 'authorization']);

/**
 * The token from `Authorization: Bearer …`, or why there is none usable.
 * Tokens in the query string are refused outright: URLs end up in logs,
 * proxies and browser history.
 */
export function extractBearerToken(
  headers: Record<string, string | string[] | undefined>,
  url: string,
): { ok: true; token: string | undefined } | { ok: false; code: 'TOKEN_IN_QUERY_STRING'; reason: string } {
  const query = url.includes('?') ? new URLSearchParams(url.slice(url.indexOf('?') + 1)) : undefined;
  if (query && [...query.keys()].some((name) => TOKEN_QUERY_NAMES.has(name.toLowerCase()))) {
    return { ok: false, code: 'TOKEN_IN_QUERY_STRING', reason: 'send the token in the Authorization header, never in the URL' };
  }
  const header = headers['authorization'];
  const value = Array.isArray(header) ? header[0] : header;
  const match = value?.match(/^Bearer\s+(\S+)\s*$/i);
  return { ok: true, token: match?.[1] };
}
