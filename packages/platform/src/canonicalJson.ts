/**
 * JSON with object keys sorted at every level, so two values that differ
 * only in key order or whitespace serialise the same: ingest's idempotency
 * fingerprint and the gateway's cache key. Changing the output changes
 * stored fingerprints (ingest compares a retry's against the first), so it is
 * fixed. Recursive: callers pass parsed request bodies or variables, whose
 * depth the services bound before they get here.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
