import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { coherenceChangedMessageSchema } from './coherenceChanged';
import { commsEnvelopeSchema } from './commsEnvelope';
import { dispatchCommandSchema } from './dispatchCommand';
import { evidenceRecordSchema } from './evidenceRecord';
import { errorResponseSchema } from './ingestResponse';
import { outboxEventSchema } from './outboxEvent';
import { policyDecisionSchema } from './policyDecision';
import { isStorableString, STORABLE_STRING_RULE, storableStringSchema } from './scalars';
import { createSignalBatchSchema } from './signalBatch';
import { formatIssuePath, validate } from './validationIssue';

/**
 * "Every string field of every contract is storable", checked by walking a
 * valid sample of each contract: every string in it, spoiled with a NUL or a
 * lone surrogate at any position, must be refused at its own path. Fields of a
 * closed format (enum, uuid, date-time, literal) refuse such a string through
 * that format; every free-form field must refuse it as `storable_string`.
 */

const provenance = { purpose: 'monitoring', retention: 'P90D', license: 'internal', residency: 'eu' };
const header = {
  messageId: '0b6f3c1e-8a4e-4c1e-9f6a-2d2b8f0e7a11',
  tenantId: 'acme',
  aggregateType: 'Tenant',
  aggregateId: 'acme',
  timestamp: '2024-05-01T11:00:01Z',
  correlationId: '4bf92f3577b34da6a3ce929d0e0e4736',
  causationId: 'req-0',
  schemaVersion: 1,
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'congo=t61rcWkgMzE',
};
const score = {
  tenantId: 'acme',
  score: 0.6,
  status: 'WARN',
  agreement: 1,
  window: 'PT24H',
  updatedAt: '2024-05-01T12:00:00Z',
  sources: [{ source: 'billing-api', score: 0.6, count: 4 }],
};

const samples: { name: string; schema: z.ZodType; value: unknown; freeFormKeysUnder?: string }[] = [
  {
    name: 'signal batch',
    schema: createSignalBatchSchema({ now: () => new Date('2024-05-01T12:00:00Z') }),
    value: {
      signals: [
        { tenantId: 'acme', source: 'billing-api', signalId: 's-1', ts: '2024-05-01T11:00:00Z', type: 'latency', value: 0.5, provenance },
      ],
    },
  },
  {
    name: 'SignalsAccepted event',
    schema: outboxEventSchema,
    value: {
      ...header,
      type: 'SignalsAccepted',
      payload: {
        signals: [
          {
            tenantId: 'acme',
            source: 'billing-api',
            signalId: 's-1',
            ts: '2024-05-01T11:00:00Z',
            type: 'latency',
            value: 0.5,
            weight: 2,
            provenance,
            receivedAt: '2024-05-01T11:00:01Z',
          },
        ],
      },
    },
  },
  {
    name: 'CoherenceChanged message',
    schema: coherenceChangedMessageSchema,
    value: {
      ...header,
      type: 'CoherenceChanged',
      payload: { tenantId: 'acme', previous: null, current: score, changedAt: '2024-05-01T12:00:01Z' },
    },
  },
  {
    name: 'policy decision',
    schema: policyDecisionSchema,
    value: {
      decisionId: '0b6f3c1e-8a4e-4c1e-9f6a-2d2b8f0e7a11',
      tenantId: 'acme',
      subject: 'user-42',
      operationId: 'op-1',
      operationType: 'query',
      allow: false,
      reasonCode: 'SCOPE_MISSING',
      explanation: 'needs coherence:read:self',
      bundleSha256: 'b'.repeat(64),
      correlationId: 'req-1',
      decidedAt: '2024-05-01T12:00:00Z',
    },
  },
  {
    name: 'comms envelope',
    schema: commsEnvelopeSchema,
    freeFormKeysUnder: 'payload',
    value: {
      envelopeId: '0b6f3c1e-8a4e-4c1e-9f6a-2d2b8f0e7a11',
      tenantId: 'acme',
      channel: 'sms',
      direction: 'inbound',
      provider: 'twilio',
      providerMessageId: 'SM123',
      correlationId: 'req-1',
      receivedAt: '2024-05-01T12:00:00Z',
      payload: { Body: 'STOP', MediaUrl: ['https://a', 'https://b'] },
    },
  },
  {
    name: 'dispatch command',
    schema: dispatchCommandSchema,
    freeFormKeysUnder: 'payload',
    value: {
      commandId: '0b6f3c1e-8a4e-4c1e-9f6a-2d2b8f0e7a11',
      tenantId: 'acme',
      type: 'notify.sms',
      idempotencyKey: 'key-1',
      correlationId: 'req-1',
      payload: { to: '+15550100', vars: { status: 'WARN', list: ['a', { deep: 'b' }] } },
      maxAttempts: 5,
    },
  },
  {
    name: 'evidence record',
    schema: evidenceRecordSchema,
    value: {
      evidenceId: '0b6f3c1e-8a4e-4c1e-9f6a-2d2b8f0e7a11',
      tenantId: 'acme',
      kind: 'command.retried',
      actor: { type: 'operator', id: 'sre-7' },
      subjectType: 'DispatchCommand',
      subjectId: 'cmd-1',
      fromState: 'failed',
      toState: 'pending',
      reason: 'provider outage resolved',
      recordedAt: '2024-05-01T12:00:00Z',
      correlationId: 'req-1',
    },
  },
  {
    name: 'error response',
    schema: errorResponseSchema,
    value: {
      error: {
        code: 'INVALID_SIGNAL',
        reason: 'SOME_REASON',
        message: '1 problem',
        issues: [{ path: 'signals[0].value', rule: 'max', message: 'Too big' }],
        fields: ['signals[0].value'],
      },
    },
  },
];

interface StringSite {
  path: PropertyKey[];
  /** Whether the string is an object key (under a free-form record) rather than a value. */
  isKey: boolean;
  text: string;
}

/** Every string value in `value`, and every key under `freeFormKeysUnder`, with its path. */
function stringSites(value: unknown, freeFormKeysUnder?: string, path: PropertyKey[] = []): StringSite[] {
  if (typeof value === 'string') return [{ path, isKey: false, text: value }];
  if (Array.isArray(value)) return value.flatMap((item: unknown, index) => stringSites(item, freeFormKeysUnder, [...path, index]));
  if (value === null || typeof value !== 'object') return [];
  const freeKeys = freeFormKeysUnder !== undefined && path[0] === freeFormKeysUnder;
  return Object.entries(value).flatMap(([key, item]) => [
    ...(freeKeys ? [{ path: [...path, key], isKey: true, text: key }] : []),
    ...stringSites(item, freeFormKeysUnder, [...path, key]),
  ]);
}

/** A copy of `root` with the string at `site` replaced by `replacement`. */
function replaceAt(root: unknown, site: StringSite, replacement: string): unknown {
  const copy: unknown = structuredClone(root);
  const parentPath = site.path.slice(0, -1);
  const last = site.path.at(-1)!;
  let parent = copy as Record<PropertyKey, unknown>;
  for (const segment of parentPath) parent = parent[segment] as Record<PropertyKey, unknown>;
  if (site.isKey) {
    const item = parent[last];
    delete parent[last];
    parent[replacement] = item;
  } else {
    parent[last] = replacement;
  }
  return copy;
}

const spoilers = fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff');

describe('every string field of every contract is storable', () => {
  for (const sample of samples) {
    const sites = stringSites(sample.value, sample.freeFormKeysUnder);

    it(`${sample.name}: the sample is valid and has strings to spoil`, () => {
      expect(validate(sample.schema, sample.value).ok).toBe(true);
      expect(sites.length).toBeGreaterThan(3);
    });

    it(`${sample.name}: a NUL or lone surrogate anywhere in any string is refused at that string`, () => {
      fc.assert(
        fc.property(fc.constantFrom(...sites), spoilers, fc.nat(), (site, spoiler, at) => {
          const position = at % (site.text.length + 1);
          const spoiled = site.text.slice(0, position) + spoiler + site.text.slice(position);
          // A lone surrogate next to its partner would pair up: only test real lone ones.
          fc.pre(!isStorableString(spoiled));
          const result = validate(sample.schema, replaceAt(sample.value, site, spoiled));
          expect(result.ok).toBe(false);
          if (result.ok) return;
          const sitePath = formatIssuePath(site.isKey ? site.path.slice(0, -1).concat(spoiled) : site.path);
          const atSite = result.issues.filter((issue) => issue.path === sitePath);
          expect(atSite.length, `${sitePath}: ${JSON.stringify(result.issues)}`).toBeGreaterThan(0);
          // A field that accepts some other plain string is free-form: there the rule must be storable_string.
          const freeForm = validate(sample.schema, replaceAt(sample.value, site, `${site.text}x`)).ok;
          if (freeForm) expect(atSite.map((issue) => issue.rule)).toEqual([STORABLE_STRING_RULE]);
        }),
        { numRuns: 300 },
      );
    });
  }
});

describe('storableStringSchema', () => {
  it('keeps any well-formed string without NUL exactly as sent (no normalisation)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        fc.pre(!text.includes('\u0000'));
        expect(storableStringSchema.parse(text)).toBe(text);
      }),
    );
    // NFC and NFD spellings of é are two different, equally storable values.
    expect(storableStringSchema.parse('\u00e9')).toBe('\u00e9');
    expect(storableStringSchema.parse('e\u0301')).toBe('e\u0301');
    expect(storableStringSchema.parse('😀')).toBe('😀');
  });

  it('refuses a NUL or a lone surrogate with one storable_string issue', () => {
    for (const bad of ['\u0000', 'a\u0000b', '\ud800', 'x\udc00', '\udc00\ud800', '😀'.slice(0, 1)]) {
      expect(validate(storableStringSchema, bad)).toEqual({
        ok: false,
        issues: [{ path: '', rule: STORABLE_STRING_RULE, message: expect.stringContaining('NUL') }],
      });
    }
  });
});
