import { describe, expect, it } from 'vitest';
import { decodeSignalCursor, encodeSignalCursor, signalNodeId } from './signalCursor';

describe('signal cursors', () => {
  const position = { ts: '2026-11-24T12:00:00.123Z', source: 'checkout', signalId: 's:1/"quoted"' };

  it('round-trips a position, whatever characters the key holds', () => {
    expect(decodeSignalCursor(encodeSignalCursor(position))).toEqual(position);
  });

  it.each([
    ['not base64 JSON', '%%%'],
    ['JSON of the wrong shape', Buffer.from('{"ts":1}').toString('base64url')],
    ['a non-string part', Buffer.from('["2026-11-24T12:00:00Z","a",1]').toString('base64url')],
    ['a timestamp that is not one', Buffer.from('["yesterday","a","b"]').toString('base64url')],
  ])('refuses %s', (_name, cursor) => {
    expect(decodeSignalCursor(cursor)).toBeNull();
  });

  it('gives different ids to signals of different tenants with the same key', () => {
    expect(signalNodeId({ ...position, tenantId: 'a' })).not.toBe(signalNodeId({ ...position, tenantId: 'b' }));
  });
});
