import { describe, expect, it } from 'vitest';
import { isUnreachableError, someCause } from './errorCauses';

const coded = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('someCause', () => {
  it('looks through causes and AggregateError members, and stops on a cycle', () => {
    const inner = coded('X1');
    expect(someCause(new Error('outer', { cause: new AggregateError([new Error('a'), inner]) }), (e) => e === inner)).toBe(true);
    const looped = new Error('loop');
    looped.cause = looped;
    expect(someCause(looped, () => false)).toBe(false);
    expect(someCause('not an error', () => true)).toBe(false);
  });
});

describe('isUnreachableError', () => {
  it.each([
    ['a refused socket', coded('ECONNREFUSED')],
    ['a broken connection (08006)', coded('08006')],
    ['too many connections (53300)', coded('53300')],
    ['a server shutting down (57P01)', coded('57P01')],
    ['a dead connection without a code', new Error('Connection terminated unexpectedly')],
    [
      "Node's fetch, when the peer closed the connection",
      new TypeError('fetch failed', { cause: coded('UND_ERR_SOCKET', 'other side closed') }),
    ],
    ['undici, when the peer sent no headers in time', coded('UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error')],
    ['undici, when the peer stopped sending its body', coded('UND_ERR_BODY_TIMEOUT', 'Body Timeout Error')],
  ])('is true for %s', (_, error) => expect(isUnreachableError(error)).toBe(true));

  it.each([
    ['a check constraint (23514)', coded('23514')],
    ['a cancelled statement (57014), which is no outage', coded('57014')],
    ['a plain error', new Error('boom')],
  ])('is false for %s', (_, error) => expect(isUnreachableError(error)).toBe(false));
});
