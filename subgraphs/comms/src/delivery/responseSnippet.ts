import type { IncomingHttpHeaders } from 'node:http';

/** Response headers worth keeping for an operator; everything else (cookies, auth challenges…) is dropped. */
export const SNIPPET_HEADER_ALLOWLIST = ['content-type', 'content-length', 'retry-after', 'x-request-id', 'date', 'server'] as const;

const REDACTED = '[redacted]';
// JSON or form fields whose names say "secret", and bearer/basic credentials anywhere in the text.
const SECRET_FIELD =
  /("?(?:[\w-]*(?:secret|token|password|passwd|api[_-]?key|authorization|signature)[\w-]*)"?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|[^\s,&}]+)/gi;
const CREDENTIAL = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g;

export interface ResponseSnippet {
  headers: Record<string, string>;
  body: string;
}

/** What of a receiver's answer is stored: allowlisted headers, and the (already bounded) body with secrets masked. */
export function toResponseSnippet(headers: IncomingHttpHeaders, body: string): ResponseSnippet {
  const kept: Record<string, string> = {};
  for (const name of SNIPPET_HEADER_ALLOWLIST) {
    const value = headers[name];
    if (value !== undefined) kept[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { headers: kept, body: redactSecrets(body) };
}

export function redactSecrets(text: string): string {
  return text
    .replace(SECRET_FIELD, (_m, key: string, value: string) => `${key}${value.startsWith('"') ? `"${REDACTED}"` : REDACTED}`)
    .replace(CREDENTIAL, `$1 ${REDACTED}`);
}
