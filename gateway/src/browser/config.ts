import { configFields } from '@coherence/platform';
import { z } from 'zod';

/** The exact origin a browser sends (`scheme://host[:port]`), never `null`, `*`, a path or a pattern. */
const isOrigin = (value: string): boolean => {
  try {
    const url = new URL(value);
    // URL keeps a `*` in a host name, and a browser never sends one.
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value && !url.hostname.includes('*');
  } catch {
    return false;
  }
};

/** Which browser pages may call the gateway; part of the gateway's config (gateway/src/config.ts, docs/adr/0028-workbench.md). */
export const browserConfigFields = {
  /**
   * Origins whose pages may call `/graphql` from a browser (CORS) and open its WebSocket, comma-separated and exact
   * (e.g. `https://workbench.example.com`). Default none: browsers are refused; clients that send no Origin are not browsers and unaffected.
   */
  GATEWAY_CORS_ORIGINS: configFields.commaList().refine((origins) => origins.every(isOrigin), {
    error: 'each value must be an exact origin such as https://app.example.com (no path, no *, no null)',
  }),
  /** How long a browser may reuse a preflight answer (Access-Control-Max-Age); Chromium caps it at 7200. Default 600. */
  GATEWAY_CORS_MAX_AGE_SECONDS: configFields.positiveInt(600),
};

export type BrowserConfig = z.infer<z.ZodObject<typeof browserConfigFields>>;
