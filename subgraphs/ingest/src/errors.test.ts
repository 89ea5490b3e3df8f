import { clientErrorCodes, httpErrorCodes } from '@coherence/platform';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ingestErrorCodes } from './errors';

/** The README's "Push signals" table is what producers read; it must list exactly the codes `POST /v1/signals` can answer. */
describe('ingest error codes', () => {
  const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## Push signals'), readme.indexOf('\n## ', readme.indexOf('## Push signals') + 1));
  const documented = Object.fromEntries(
    [...section.matchAll(/^\| `([A-Z_]+)`\s*\| (\d{3})\s*\|/gm)].map(([, code, status]) => [code!, Number(status)]),
  );

  it('are all in the README table with their HTTP status, and the table has no others', () => {
    const { MALFORMED_JSON, EMPTY_BODY, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, SERVICE_UNAVAILABLE, INTERNAL } = httpErrorCodes;
    expect(documented).toEqual({
      ...ingestErrorCodes,
      ...clientErrorCodes,
      MALFORMED_JSON,
      EMPTY_BODY,
      PAYLOAD_TOO_LARGE,
      UNSUPPORTED_MEDIA_TYPE,
      SERVICE_UNAVAILABLE,
      INTERNAL,
    });
  });
});
