import fc from 'fast-check';

/**
 * Inputs a careless or hostile producer could send, shared by the fuzz
 * targets: strings with every kind of code point (NUL, lone surrogates,
 * bidi and zero-width marks, combining sequences, around the length
 * limits), numbers at the edges of IEEE-754 and of JSON, mutated signals,
 * and bytes that are not UTF-8.
 */

/** Marks a value that must reach the wire as this exact JSON text (e.g. `1e400`, which JSON.stringify cannot write). */
export class RawJson {
  constructor(readonly text: string) {}
  [fc.toStringMethod](): string {
    const { text } = this;
    return text.length <= 80 ? `RawJson(${text})` : `RawJson(${text.slice(0, 40)}…${text.slice(-20)}, ${text.length} chars)`;
  }
}

/** Marks a string whose bytes on the wire are `bytes`, which need not be UTF-8. */
export class RawBytes {
  constructor(readonly bytes: Uint8Array) {}
  [fc.toStringMethod](): string {
    return `RawBytes(0x${Buffer.from(this.bytes).toString('hex')})`;
  }
}

/**
 * JSON of `value` with every {@link RawJson} written verbatim and every
 * {@link RawBytes} spliced in as the content of a JSON string. Lone
 * surrogates are written as `\uXXXX` escapes by JSON.stringify, which decode
 * back to lone surrogates on the server.
 */
export function encodeJson(value: unknown): Uint8Array {
  const raws: (RawJson | RawBytes)[] = [];
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (item instanceof RawJson || item instanceof RawBytes) {
      raws.push(item);
      return `\u0001raw${raws.length - 1}\u0001`;
    }
    return item;
  });
  // undefined: JSON.stringify of a lone undefined; send nothing then.
  if (text === undefined) return new Uint8Array();
  const parts: Buffer[] = [];
  const marker = /"\\u0001raw(\d+)\\u0001"/g;
  let last = 0;
  for (const match of text.matchAll(marker)) {
    parts.push(Buffer.from(text.slice(last, match.index), 'utf8'));
    const raw = raws[Number(match[1])]!;
    parts.push(raw instanceof RawJson ? Buffer.from(raw.text, 'utf8') : Buffer.concat([Buffer.from('"'), raw.bytes, Buffer.from('"')]));
    last = match.index + match[0].length;
  }
  parts.push(Buffer.from(text.slice(last), 'utf8'));
  return Buffer.concat(parts);
}

/** One character Node's HTTP client accepts in a header value: tab, space, visible ASCII, or Latin-1 above DEL. */
export const latin1Visible: fc.Arbitrary<string> = fc
  .oneof(
    { arbitrary: fc.integer({ min: 0x20, max: 0x7e }), weight: 3 },
    { arbitrary: fc.integer({ min: 0x80, max: 0xff }), weight: 1 },
    fc.constant(0x09),
  )
  .map((code) => String.fromCharCode(code));

/** Single code points and short sequences that have broken stores, parsers or normalisers somewhere. */
const awkwardCharacter = fc.constantFrom(
  '\u0000', // NUL: Postgres text and jsonb refuse it
  '\ud800', // lone high surrogate
  '\udbff',
  '\udc00', // lone low surrogate
  '\udfff',
  '\ud83d', // the first half of an emoji
  '😀',
  '\ufeff', // BOM
  '\ufffe',
  '\uffff',
  '\ufffd',
  '\u202e', // right-to-left override
  '\u200b', // zero-width space
  'e\u0301', // e + combining acute (NFD)
  '\u00e9', // é (NFC)
  '\u2028', // line separator (breaks JS string literals)
  '\u0085',
  '\u001b', // ESC (terminal escapes in logs)
  '\u007f',
  '\n',
  '\r',
  '\t',
  ' ',
  '"',
  '\\',
  "'",
  '%',
  '$',
  '{',
  '}',
  '<',
  '.',
  ':',
  '-',
  '_',
  'a',
  'Z',
  '0',
);

/** A short string of mostly awkward characters. */
export const awkwardString = fc.string({
  unit: fc.oneof(awkwardCharacter, fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
  maxLength: 12,
});

/** A string of `length` characters around a limit (128, 256, …), possibly ending in something awkward. */
const aroundLimit = fc
  .tuple(
    fc.constantFrom(127, 128, 129, 255, 256, 257, 1_000, 5_000),
    fc.constantFrom('x', 'é', '😀', 'e\u0301'),
    fc.option(awkwardCharacter),
  )
  .map(([length, filler, tail]) => filler.repeat(length) + (tail ?? ''));

/** Any string a JSON producer could send, weighted towards the awkward. */
export const anyString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: awkwardString, weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }), weight: 3 },
  { arbitrary: fc.string({ maxLength: 30 }), weight: 2 },
  { arbitrary: aroundLimit, weight: 1 },
);

/** Numbers at the edges: IEEE-754 extremes, just outside [0, 1], huge weights, integers beyond 2^53. */
export const edgeNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    -0,
    1,
    -1,
    0.5,
    1e308,
    -1e308,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    -Number.MIN_VALUE,
    1e-300,
    1 + Number.EPSILON,
    1 - Number.EPSILON / 2,
    2 ** 53,
    2 ** 53 + 2,
    -(2 ** 53),
    1e6,
    1e6 + 1,
    1e15,
    1e21,
  ),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

/** Number literals as JSON text that JSON.stringify cannot produce (JSON.parse reads 1e400 as Infinity). */
export const rawNumberLiteral: fc.Arbitrary<RawJson> = fc
  .constantFrom(
    '1e400',
    '-1e400',
    '1e-400',
    '-0',
    '0e0',
    '1E+0',
    '0.50000000000000000000001',
    '123456789012345678901234567890',
    '5e-324',
    '1.0',
  )
  .map((text) => new RawJson(text));

/** Any JSON value, including the awkward strings and edge numbers. */
export const anyJsonValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 3 },
  { arbitrary: anyString, weight: 2 },
  { arbitrary: edgeNumber, weight: 2 },
  { arbitrary: rawNumberLiteral, weight: 1 },
  { arbitrary: fc.constantFrom(null, true, false, [], {}), weight: 1 },
);

/** Bytes that are not valid UTF-8, each kind once: stray continuation, overlong NUL, CESU surrogate, above U+10FFFF, truncated. */
export const invalidUtf8: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc
    .constantFrom(
      [0xff],
      [0xfe, 0xff],
      [0x80],
      [0xc0, 0x80],
      [0xc1, 0xbf],
      [0xed, 0xa0, 0x80],
      [0xed, 0xbf, 0xbf],
      [0xf4, 0x90, 0x80, 0x80],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
      [0xe2, 0x82],
      [0xf0, 0x9f, 0x98],
    )
    .map((bytes) => Uint8Array.from(bytes)),
  fc.uint8Array({ minLength: 1, maxLength: 8 }),
);

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * Date-times in the shape ISO-8601 allows, over the whole range of each part:
 * years 0000–9999, zone offsets up to ±23:59, 0–12 fraction digits, days the
 * month may not have. What the format rule accepts here must also be storable.
 */
export const isoShapedTimestamp: fc.Arbitrary<string> = fc
  .record({
    year: fc.oneof(fc.integer({ min: 0, max: 9_999 }), fc.constantFrom(0, 1, 1969, 1970, 2026, 9_999)),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 31 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.integer({ min: 0, max: 60 }),
    fraction: fc.option(fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 1, maxLength: 12 }), { nil: undefined }),
    zone: fc.oneof(
      fc.constant('Z'),
      fc
        .tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }))
        .map(([sign, hours, minutes]) => `${sign}${pad(hours, 2)}:${pad(minutes, 2)}`),
    ),
  })
  .map(
    (t) =>
      `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}T${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}` +
      `${t.fraction === undefined ? '' : `.${t.fraction}`}${t.zone}`,
  );

/** `ts` values: recent ones the window keeps, and every shape the format rule has to judge. */
export const anyTimestamp: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: isoShapedTimestamp, weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: 20 * 60 }).map(minutesAgo), weight: 6 },
  {
    arbitrary: fc.constantFrom(
      '2026-02-30T00:00:00Z',
      '2024-02-29T12:00:00Z',
      '2025-12-31T23:59:60Z',
      '1970-01-01T00:00:00Z',
      '0000-01-01T00:00:00Z',
      '9999-12-31T23:59:59Z',
      '2026-11-24T12:00:00+14:00',
      '2026-11-24T12:00:00-12:00',
      '2026-11-24T12:00:00+23:59',
      '2026-11-24T12:00:00+15:59',
      '2026-11-24T12:00:00+16:00',
      '2026-11-24T12:00:00+24:00',
      '2026-11-24T12:00:00.123456789Z',
      '2026-11-24T12:00:00z',
      '2026-11-24T12:00:00',
      '2026-11-24 12:00:00Z',
      '+012026-11-24T12:00:00Z',
      'now',
      '',
    ),
    weight: 2,
  },
  { arbitrary: fc.integer({ min: 1, max: 3 }).map((days) => new Date(Date.now() + days * 86_400_000).toISOString()), weight: 1 },
  { arbitrary: fc.date({ noInvalidDate: true }).map((date) => date.toISOString()), weight: 1 },
  { arbitrary: anyJsonValue, weight: 1 },
);

export interface SignalShape {
  tenantId: string;
  source: string;
  signalId: string;
  ts: string;
  type: string;
  value: number;
  weight?: number;
  provenance?: Record<string, string>;
}

/** A signal of `tenantId` the contract accepts: ids from a small pool too, so some are deduped. */
export function validSignal(tenantId: string): fc.Arbitrary<SignalShape> {
  return fc.record(
    {
      tenantId: fc.constant(tenantId),
      source: fc.constantFrom('checkout', 'search', 'billing'),
      signalId: fc.oneof({ arbitrary: fc.uuid(), weight: 4 }, { arbitrary: fc.constantFrom('dup-1', 'dup-2'), weight: 1 }),
      ts: fc.integer({ min: 1, max: 20 * 60 }).map(minutesAgo),
      type: fc.constantFrom('latency', 'errors'),
      value: fc.double({ min: 0, max: 1, noNaN: true }),
      weight: fc.double({ min: 0.01, max: 100, noNaN: true }),
      provenance: fc.constant({ purpose: 'monitoring', retention: 'P30D', license: 'internal', residency: 'us' }),
    },
    { requiredKeys: ['tenantId', 'source', 'signalId', 'ts', 'type', 'value'] },
  );
}

const signalFields = ['tenantId', 'source', 'signalId', 'ts', 'type', 'value', 'weight', 'provenance'] as const;

/** A value for `field` that a careless producer could send: awkward strings everywhere, edge numbers, wrong types. */
function fieldValue(field: (typeof signalFields)[number], otherTenant: string): fc.Arbitrary<unknown> {
  switch (field) {
    case 'value':
    case 'weight':
      return fc.oneof(
        { arbitrary: edgeNumber, weight: 5 },
        { arbitrary: rawNumberLiteral, weight: 2 },
        { arbitrary: fc.constantFrom('0.5', 'NaN', 'Infinity', '1e308', null, true, [0.5], { n: 0.5 }), weight: 1 },
      );
    case 'ts':
      return anyTimestamp;
    case 'tenantId':
      return fc.oneof(
        fc.constant(otherTenant),
        anyString,
        fc.constantFrom('', ' ', 'a b', '..', '-', 'x'.repeat(129), `${otherTenant}\u0000`),
      );
    case 'provenance':
      return fc.oneof(
        fc.record({ purpose: anyString, retention: anyString, license: anyString, residency: anyString }),
        fc.constant({ purpose: 'p', retention: 'r', license: 'l', residency: 'us', extra: 1 }),
        anyJsonValue,
      );
    default:
      return fc.oneof({ arbitrary: anyString, weight: 5 }, { arbitrary: anyJsonValue, weight: 1 });
  }
}

export type SignalMutation = { set: string; to: unknown } | { drop: string };

/** One change to a valid signal: a field set to an awkward value, an unknown field added, or a field removed. */
export function signalMutation(otherTenant: string): fc.Arbitrary<SignalMutation> {
  return fc.oneof(
    {
      arbitrary: fc.constantFrom(...signalFields).chain((field) => fieldValue(field, otherTenant).map((to) => ({ set: field, to }))),
      weight: 8,
    },
    {
      arbitrary: fc.record({ set: fc.oneof(anyString, fc.constantFrom('__proto__', 'constructor', 'colour')), to: anyJsonValue }),
      weight: 1,
    },
    { arbitrary: fc.constantFrom(...signalFields).map((field) => ({ drop: field })), weight: 1 },
  );
}

export function applyMutations(signal: SignalShape, mutations: readonly SignalMutation[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...signal };
  for (const mutation of mutations) {
    if ('drop' in mutation) delete out[mutation.drop];
    // defineProperty: `__proto__` must become an own field of the JSON, not the object's prototype.
    else Object.defineProperty(out, mutation.set, { value: mutation.to, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Weights a producer could think are fine: huge (their sum overflows), tiny (subnormal), and either side of a bound. */
export const extremeWeight = fc.constantFrom(1e308, Number.MAX_VALUE, 1e300, 1e154, 1e6, 1e6 + 1, 1e-6, 1e-7, 1e-300, Number.MIN_VALUE);

/** Weights and values at the edges of what a producer could think is fine. */
const extremeNumbers = fc.oneof(
  fc.record({ weight: extremeWeight }),
  fc.record({ value: fc.constantFrom(0, 1, Number.MIN_VALUE, 1 - Number.EPSILON / 2, 1e-300) }),
);

/** A valid signal changed in exactly one way: the input most likely to pass validation and still trouble a store. */
export function singlyMutatedSignal(tenantId: string, otherTenant: string): fc.Arbitrary<Record<string, unknown>> {
  return fc.oneof(
    {
      arbitrary: fc
        .tuple(validSignal(tenantId), signalMutation(otherTenant))
        .map(([signal, mutation]) => applyMutations(signal, [mutation])),
      weight: 3,
    },
    { arbitrary: fc.tuple(validSignal(tenantId), isoShapedTimestamp).map(([signal, ts]) => ({ ...signal, ts })), weight: 2 },
    { arbitrary: fc.tuple(validSignal(tenantId), extremeNumbers).map(([signal, numbers]) => ({ ...signal, ...numbers })), weight: 2 },
  );
}

/** A signal of `tenantId`: valid, changed in one way, or changed by one to three mutations. */
export function maybeMutatedSignal(tenantId: string, otherTenant: string): fc.Arbitrary<Record<string, unknown>> {
  return fc.oneof(
    { arbitrary: validSignal(tenantId).map((signal) => ({ ...signal }) as Record<string, unknown>), weight: 2 },
    { arbitrary: singlyMutatedSignal(tenantId, otherTenant), weight: 3 },
    {
      arbitrary: fc
        .tuple(validSignal(tenantId), fc.array(signalMutation(otherTenant), { minLength: 1, maxLength: 3 }))
        .map(([signal, mutations]) => applyMutations(signal, mutations)),
      weight: 1,
    },
  );
}

/** A valid signal with one string field's content replaced by bytes that are not UTF-8. */
export function signalWithInvalidUtf8(tenantId: string): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(validSignal(tenantId), fc.constantFrom('source', 'signalId', 'type', 'tenantId', 'ts'), invalidUtf8)
    .map(([signal, field, bytes]) => ({ ...signal, [field]: new RawBytes(bytes) }));
}
