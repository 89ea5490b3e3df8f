import { createHash } from 'node:crypto';
import { formatIssuePath } from '@coherence/contracts';
import { canonicalJson } from '@coherence/platform';

/** sha256 (hex) of the body's canonical JSON (keys sorted): key order and whitespace do not count. */
export function requestSha256(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body)).digest('hex');
}

/** Most paths one mismatch reports; a body rewritten wholesale is summarised at that. */
export const MAX_DIFFERING_FIELDS = 100;

/**
 * The paths (as in validation issues: `signals[0].value`) at which two JSON
 * values differ; the deepest path that still tells them apart. Added or
 * removed keys and array items count as differing at their own path.
 */
export function differingFields(before: unknown, after: unknown): string[] {
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, path: (string | number)[]): void => {
    if (out.length >= MAX_DIFFERING_FIELDS) return;
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i += 1) walk(a[i], b[i], [...path, i]);
      return;
    }
    if (isPlainObject(a) && isPlainObject(b)) {
      for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) walk(a[key], b[key], [...path, key]);
      return;
    }
    if (canonicalJson(a) !== canonicalJson(b)) out.push(formatIssuePath(path));
  };
  walk(before, after, []);
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
