import { describe, expect, it } from 'vitest';
import {
  childTraceparent,
  createTraceparent,
  extractTraceContext,
  formatTraceparent,
  formatTracestate,
  injectTraceContext,
  isSampled,
  parseTraceparent,
  parseTracestate,
  type TraceStateMember,
} from './traceContext';

// Examples from the W3C Trace Context Recommendation.
const SPEC_TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

describe('parseTraceparent', () => {
  it('parses the spec example', () => {
    expect(parseTraceparent(SPEC_TRACEPARENT)).toEqual({ traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 });
  });

  it('parses an unsampled header and keeps unknown version-00 flag bits', () => {
    expect(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-00`)?.traceFlags).toBe(0);
    expect(parseTraceparent(`00-${TRACE_ID}-${PARENT_ID}-03`)?.traceFlags).toBe(3);
  });

  it.each([
    ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT_ID}-01`],
    ['all-zero parent id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['uppercase ids', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01'],
    ['uppercase flags', `00-${TRACE_ID}-${PARENT_ID}-0A`],
    ['uppercase version', `0A-${TRACE_ID}-${PARENT_ID}-01`],
    ['version ff', `ff-${TRACE_ID}-${PARENT_ID}-01`],
    ['non-hex version', `0g-${TRACE_ID}-${PARENT_ID}-01`],
    ['non-hex trace id', `00-${TRACE_ID.slice(0, 31)}g-${PARENT_ID}-01`],
    ['non-hex flags', `00-${TRACE_ID}-${PARENT_ID}-0x`],
    ['short trace id', `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`],
    ['long parent id', `00-${TRACE_ID}-${PARENT_ID}0-01`],
    ['version 00 with a trailing field', `${SPEC_TRACEPARENT}-extra`],
    ['version 00 with trailing characters', `${SPEC_TRACEPARENT}0`],
    ['wrong separators', `00_${TRACE_ID}_${PARENT_ID}_01`],
    ['surrounding whitespace', ` ${SPEC_TRACEPARENT}`],
    ['empty', ''],
    ['garbage', 'traceparent'],
  ])('rejects %s', (_name, header) => {
    expect(parseTraceparent(header)).toBeNull();
  });

  it('accepts a future version whose first four fields parse, keeping only the sampled bit', () => {
    expect(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-will-be-like`)).toEqual({
      traceId: TRACE_ID,
      parentId: PARENT_ID,
      traceFlags: 1,
    });
    expect(parseTraceparent(`01-${TRACE_ID}-${PARENT_ID}-03`)?.traceFlags).toBe(1);
  });

  it('rejects a future version whose flags are not followed by end or a dash', () => {
    expect(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01.what`)).toBeNull();
    expect(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-0`)).toBeNull();
  });

  it('rejects absurdly long headers', () => {
    expect(parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01-${'x'.repeat(1000)}`)).toBeNull();
  });
});

describe('formatTraceparent', () => {
  it('round-trips version 00', () => {
    const parsed = parseTraceparent(SPEC_TRACEPARENT);
    expect(parsed && formatTraceparent(parsed)).toBe(SPEC_TRACEPARENT);
  });

  it('re-emits a future version as 00 without its unknown fields', () => {
    const parsed = parseTraceparent(`cc-${TRACE_ID}-${PARENT_ID}-01-future`);
    expect(parsed && formatTraceparent(parsed)).toBe(SPEC_TRACEPARENT);
  });

  it('pads flags to two hex digits', () => {
    expect(formatTraceparent({ traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 0 })).toBe(`00-${TRACE_ID}-${PARENT_ID}-00`);
  });
});

describe('createTraceparent / childTraceparent', () => {
  it('creates valid, sampled, random ids', () => {
    const a = createTraceparent();
    const b = createTraceparent();
    expect(parseTraceparent(formatTraceparent(a))).toEqual(a);
    expect(isSampled(a)).toBe(true);
    expect(a.traceId).not.toBe(b.traceId);
    expect(a.parentId).not.toBe(b.parentId);
  });

  it('can create an unsampled trace', () => {
    const tp = createTraceparent({ sampled: false });
    expect(isSampled(tp)).toBe(false);
    expect(formatTraceparent(tp).endsWith('-00')).toBe(true);
  });

  it('a child keeps trace id and flags and gets a new valid span id', () => {
    const parent = { traceId: TRACE_ID, parentId: PARENT_ID, traceFlags: 1 };
    const child = childTraceparent(parent);
    expect(child.traceId).toBe(TRACE_ID);
    expect(child.traceFlags).toBe(1);
    expect(child.parentId).not.toBe(PARENT_ID);
    expect(child.parentId).toMatch(/^[0-9a-f]{16}$/);
    expect(parseTraceparent(formatTraceparent(child))).toEqual(child);
  });
});

describe('parseTracestate', () => {
  it('parses the spec example, in order', () => {
    expect(parseTracestate('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE')).toEqual([
      { key: 'rojo', value: '00f067aa0ba902b7' },
      { key: 'congo', value: 't61rcWkgMzE' },
    ]);
  });

  it('tolerates optional whitespace and empty members, and joins repeated headers', () => {
    expect(parseTracestate([' rojo=1 ,\t, congo=2', 'foo=3'])).toEqual([
      { key: 'rojo', value: '1' },
      { key: 'congo', value: '2' },
      { key: 'foo', value: '3' },
    ]);
  });

  it('accepts multi-tenant keys and special value characters', () => {
    expect(parseTracestate('fw529a3039@dt=00f067aa0ba902b7-01,1tenant@sys=a b!~')).toEqual([
      { key: 'fw529a3039@dt', value: '00f067aa0ba902b7-01' },
      { key: '1tenant@sys', value: 'a b!~' },
    ]);
  });

  it('drops invalid members and keeps the valid ones', () => {
    const header = ['Upper=1', '1simple=2', 'noequals', '=novalue', 'k=', 'k=a=b', 'ok=fine', 'a@1sys=x', 'x=é'].join(',');
    expect(parseTracestate(header)).toEqual([{ key: 'ok', value: 'fine' }]);
  });

  it('keeps the first of duplicate keys', () => {
    expect(parseTracestate('a=1,b=2,a=3')).toEqual([
      { key: 'a', value: '1' },
      { key: 'b', value: '2' },
    ]);
  });

  it('keeps at most 32 members, leftmost first', () => {
    const header = Array.from({ length: 40 }, (_, i) => `k${i}=v${i}`).join(',');
    const members = parseTracestate(header);
    expect(members).toHaveLength(32);
    expect(members[0]).toEqual({ key: 'k0', value: 'v0' });
    expect(members[31]).toEqual({ key: 'k31', value: 'v31' });
  });

  it('bounds key and value lengths', () => {
    expect(parseTracestate(`${'a'.repeat(256)}=v`)).toHaveLength(1);
    expect(parseTracestate(`${'a'.repeat(257)}=v`)).toHaveLength(0);
    expect(parseTracestate(`k=${'v'.repeat(256)}`)).toHaveLength(1);
    expect(parseTracestate(`k=${'v'.repeat(257)}`)).toHaveLength(0);
  });
});

describe('formatTracestate', () => {
  it('writes members comma-separated and round-trips', () => {
    const header = 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE';
    expect(formatTracestate(parseTracestate(header))).toBe(header);
  });

  it('drops invalid and duplicate members and caps at 32', () => {
    const members: TraceStateMember[] = [
      { key: 'a', value: '1' },
      { key: 'BAD', value: '1' },
      { key: 'b', value: 'x,y' },
      { key: 'a', value: '2' },
      ...Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: 'v' })),
    ];
    const out = formatTracestate(members, 10_000);
    expect(out.startsWith('a=1,k0=v,')).toBe(true);
    expect(out.split(',')).toHaveLength(32);
  });

  it('truncates to maxLength by first dropping members over 128 characters, then from the right', () => {
    const big = { key: 'big', value: 'x'.repeat(200) };
    const small = Array.from({ length: 3 }, (_, i) => ({ key: `s${i}`, value: 'v'.repeat(50) }));
    // 4 members, ~370 chars: over 300, so the big one goes first even though it is leftmost.
    expect(formatTracestate([big, ...small], 300)).toBe(small.map((m) => `${m.key}=${m.value}`).join(','));
    // Each small member is 53 characters: two make 107, over 100, so only the leftmost stays.
    expect(formatTracestate(small, 100)).toBe(`s0=${'v'.repeat(50)}`);
    expect(formatTracestate(small, 10)).toBe('');
  });
});

describe('extractTraceContext', () => {
  it('continues an incoming trace with a new span for this hop', () => {
    const ctx = extractTraceContext({ traceparent: SPEC_TRACEPARENT, tracestate: 'rojo=1, congo=2' });
    expect(ctx.traceparent.traceId).toBe(TRACE_ID);
    expect(ctx.traceparent.traceFlags).toBe(1);
    expect(ctx.traceparent.parentId).not.toBe(PARENT_ID);
    expect(ctx.remoteParentId).toBe(PARENT_ID);
    expect(ctx.tracestate).toBe('rojo=1,congo=2');
    expect(ctx.requestId).toBe(TRACE_ID);
  });

  it('uses the trace id as request id even when x-request-id also came in', () => {
    const ctx = extractTraceContext({ traceparent: SPEC_TRACEPARENT, 'x-request-id': 'legacy-1' });
    expect(ctx.requestId).toBe(TRACE_ID);
  });

  it('keeps a lone x-request-id as the request id and starts a new trace', () => {
    const ctx = extractTraceContext({ 'x-request-id': 'legacy-1' });
    expect(ctx.requestId).toBe('legacy-1');
    expect(ctx.traceparent.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(isSampled(ctx.traceparent)).toBe(true);
    expect(ctx.remoteParentId).toBeUndefined();
  });

  it('at an edge that does not trust it (trustRequestId: false), keeps x-request-id only as clientRequestId', () => {
    const lone = extractTraceContext({ 'x-request-id': 'legacy-1' }, { trustRequestId: false });
    expect(lone.requestId).toBe(lone.traceparent.traceId);
    expect(lone.clientRequestId).toBe('legacy-1');
    const traced = extractTraceContext({ traceparent: SPEC_TRACEPARENT, 'x-request-id': 'legacy-1' }, { trustRequestId: false });
    expect(traced).toMatchObject({ requestId: TRACE_ID, clientRequestId: 'legacy-1' });
    expect(extractTraceContext({ 'x-request-id': 'has space' }, { trustRequestId: false })).not.toHaveProperty('clientRequestId');
  });

  it('starts a new trace when nothing came in; request id = trace id', () => {
    const ctx = extractTraceContext({});
    expect(ctx.requestId).toBe(ctx.traceparent.traceId);
    expect(ctx.tracestate).toBeUndefined();
    expect(ctx).not.toHaveProperty('tracestate');
  });

  it('restarts on an invalid traceparent and then ignores tracestate', () => {
    const ctx = extractTraceContext({
      traceparent: `ff-${TRACE_ID}-${PARENT_ID}-01`,
      tracestate: 'rojo=1',
      'x-request-id': 'legacy-2',
    });
    expect(ctx.traceparent.traceId).not.toBe(TRACE_ID);
    expect(ctx.tracestate).toBeUndefined();
    expect(ctx.requestId).toBe('legacy-2');
  });

  it('treats repeated traceparent headers as invalid', () => {
    const ctx = extractTraceContext({ traceparent: [SPEC_TRACEPARENT, `00-${'1'.repeat(32)}-${PARENT_ID}-01`] });
    expect(ctx.traceparent.traceId).not.toBe(TRACE_ID);
    expect(extractTraceContext({ traceparent: [SPEC_TRACEPARENT] }).traceparent.traceId).toBe(TRACE_ID);
  });

  it('ignores an unsafe x-request-id', () => {
    for (const bad of ['has space', 'line\r\nbreak', 'x'.repeat(129), '']) {
      const ctx = extractTraceContext({ 'x-request-id': bad });
      expect(ctx.requestId).toBe(ctx.traceparent.traceId);
    }
  });

  it('matches header names case-insensitively', () => {
    const ctx = extractTraceContext({ Traceparent: SPEC_TRACEPARENT, TraceState: 'rojo=1' });
    expect(ctx.traceparent.traceId).toBe(TRACE_ID);
    expect(ctx.tracestate).toBe('rojo=1');
  });

  it('drops a tracestate that has no valid member', () => {
    const ctx = extractTraceContext({ traceparent: SPEC_TRACEPARENT, tracestate: 'BAD=1' });
    expect(ctx).not.toHaveProperty('tracestate');
  });
});

describe('injectTraceContext', () => {
  it('writes traceparent, tracestate and x-request-id', () => {
    const ctx = extractTraceContext({ traceparent: SPEC_TRACEPARENT, tracestate: 'rojo=1' });
    const headers = injectTraceContext(ctx);
    expect(headers).toEqual({
      traceparent: formatTraceparent(ctx.traceparent),
      tracestate: 'rojo=1',
      'x-request-id': TRACE_ID,
    });
  });

  it('omits an absent tracestate', () => {
    const headers = injectTraceContext(extractTraceContext({ 'x-request-id': 'legacy-1' }));
    expect(Object.keys(headers).sort()).toEqual(['traceparent', 'x-request-id']);
    expect(headers['x-request-id']).toBe('legacy-1');
  });

  it('lets the next hop continue the same trace', () => {
    const first = extractTraceContext({});
    const second = extractTraceContext(injectTraceContext(first));
    expect(second.traceparent.traceId).toBe(first.traceparent.traceId);
    expect(second.remoteParentId).toBe(first.traceparent.parentId);
    expect(second.requestId).toBe(first.traceparent.traceId);
  });
});

// These headers are read before authentication on every listener, so a header
// built to make the parser slow must cost no more than an ordinary one of the
// same size. Timed against a baseline in the same test: the failure this
// guards against is seconds, not a percentage.
describe('hostile trace headers', () => {
  const KB = 1024;

  // Best of a few runs: the slow ones are GC and JIT warm-up, not the parser.
  function bestMs(run: () => void): number {
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 3; i += 1) {
      const start = performance.now();
      run();
      best = Math.min(best, performance.now() - start);
    }
    return best;
  }

  // A member with a long run of blanks not at its end: a trailing-blanks
  // pattern retries from every blank, so the cost grows with the square.
  const blanks = (length: number): string => `k=a${' \t'.repeat((length - 4) / 2)}b`;
  const ordinary = (length: number): string =>
    Array.from({ length: Math.ceil(length / 4) }, (_, i) => `k${i}=v`)
      .join(',')
      .slice(0, length);

  function expectNoSlowerThanOrdinary(hostile: string, benign: string): void {
    expect(hostile).toHaveLength(benign.length);
    const extract = (tracestate: string) => () => extractTraceContext({ traceparent: SPEC_TRACEPARENT, tracestate });
    const benignMs = bestMs(extract(benign));
    const hostileMs = bestMs(extract(hostile));
    expect(hostileMs, `hostile ${hostileMs.toFixed(2)} ms, ordinary ${benignMs.toFixed(2)} ms`).toBeLessThanOrEqual(10 * benignMs + 5);
  }

  // A regression takes seconds per run; the long timeout lets it report the
  // measured times instead of a bare timeout.
  it('reads a 64 KB tracestate of blanks as fast as an ordinary one', { timeout: 60_000 }, () => {
    expectNoSlowerThanOrdinary(blanks(64 * KB), ordinary(64 * KB));
    expect(extractTraceContext({ traceparent: SPEC_TRACEPARENT, tracestate: blanks(64 * KB) })).not.toHaveProperty('tracestate');
  });

  it('trims a 16 KB tracestate of blanks, which is under the length cap, in linear time', { timeout: 60_000 }, () => {
    expectNoSlowerThanOrdinary(blanks(16 * KB), ordinary(16 * KB));
  });

  it('reads a tracestate up to 32 of the longest members joined by ", ", and ignores a longer one whole', () => {
    const members = Array.from({ length: 32 }, (_, i) => `k${String(i).padStart(2, '0')}`.padEnd(256, 'a') + `=${'v'.repeat(256)}`);
    const longest = members.join(', ');
    expect(longest).toHaveLength(16_478);
    expect(parseTracestate(longest)).toHaveLength(32);
    expect(parseTracestate(` ${longest}`)).toEqual([]);
    expect(parseTracestate([longest, 'rojo=1'])).toEqual([]);
  });

  it('ignores a 64 KB traceparent and x-request-id', () => {
    const traceparent = `cc-${TRACE_ID}-${PARENT_ID}-01-${'x'.repeat(64 * KB)}`;
    const ctx = extractTraceContext({ traceparent, tracestate: 'rojo=1', 'x-request-id': '!'.repeat(64 * KB) });
    expect(ctx.traceparent.traceId).not.toBe(TRACE_ID);
    expect(ctx.requestId).toBe(ctx.traceparent.traceId);
    expect(ctx).not.toHaveProperty('tracestate');
  });
});
