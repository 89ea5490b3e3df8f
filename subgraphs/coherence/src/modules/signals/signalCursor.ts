import type { SignalPosition } from '../../graph/signalGraph';

/**
 * Opaque cursors: base64url of the sort key. Clients must not parse them;
 * encoding the key (not an offset) keeps pages stable while signals arrive.
 */
export function encodeSignalCursor(position: SignalPosition): string {
  return Buffer.from(JSON.stringify([position.ts, position.source, position.signalId])).toString('base64url');
}

/** The position a cursor names, or null when it is not one of ours. */
export function decodeSignalCursor(cursor: string): SignalPosition | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== 3 || !parsed.every((part) => typeof part === 'string')) return null;
    const [ts, source, signalId] = parsed as [string, string, string];
    return Number.isNaN(Date.parse(ts)) ? null : { ts, source, signalId };
  } catch {
    return null;
  }
}

/** A signal's global id: its key, tenant included. */
export function signalNodeId(signal: SignalPosition & { tenantId: string }): string {
  return Buffer.from(JSON.stringify([signal.tenantId, signal.source, signal.signalId, signal.ts])).toString('base64url');
}
