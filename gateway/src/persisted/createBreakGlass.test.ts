import { SCOPES, type Principal } from '@coherence/auth';
import { apiSchemaFromSupergraph } from '@coherence/persisted-queries';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { supergraphPath } from '../supergraph/subgraphs';
import { BREAK_GLASS_MAX_TOKEN_AGE_SECONDS, createBreakGlass } from './createBreakGlass';
import { FREE_TEXT_LIMITS } from './createFreeTextOperation';

const apiSchema = apiSchemaFromSupergraph(readFileSync(supergraphPath, 'utf8'));
const startMs = Date.parse('2026-11-26T10:00:00Z');
let nowMs = startMs;
const breakGlass = createBreakGlass({ apiSchema, until: new Date(startMs + 60 * 60_000), now: () => nowMs });

const principal = (overrides: Partial<Principal> = {}): Principal => ({
  subject: 'oncall',
  tenantId: 'ops',
  scopes: ['coherence:read', SCOPES.breakGlass],
  residency: ['us'],
  clientId: 'cli',
  issuer: 'coherence-dev',
  expiresAt: new Date(startMs + 60 * 60_000),
  issuedAt: new Date(startMs - 60_000),
  ...overrides,
});
const triage = 'query Triage { tenantCoherence(tenantId: "acme") { tenantId status } }';
const run = (query = triage, method: 'GET' | 'POST' = 'POST', caller = principal()) => breakGlass(query, { method, principal: caller });

/** `count` root fields of two fields each (the field and `status`), aliased or not. */
const fields = (count: number, alias = false) =>
  `query Wide { ${Array.from({ length: count }, (_, i) => `${alias ? `a${i}: ` : ''}tenantCoherence(tenantId: "t${i}") { status }`).join(' ')} }`;

describe('createBreakGlass', () => {
  it('turns named query text into an operation with a free-text id', () => {
    expect(run()).toMatchObject({
      ok: true,
      operation: { name: 'Triage', type: 'query', id: expect.stringMatching(/^free-text:[0-9a-f]{64}$/) },
    });
  });

  const forbidden = (reasonCode: string) => ({ code: 'FORBIDDEN', extensions: { reasonCode } });
  it.each([
    ['a token without the break-glass scope', principal({ scopes: ['coherence:read'] }), 'POST', forbidden('SCOPE_MISSING')],
    [
      'a token issued more than 15 minutes ago',
      principal({ issuedAt: new Date(startMs - (BREAK_GLASS_MAX_TOKEN_AGE_SECONDS + 1) * 1_000) }),
      'POST',
      forbidden('TOKEN_TOO_OLD'),
    ],
    ['a token without iat', principal({ issuedAt: undefined }), 'POST', forbidden('TOKEN_TOO_OLD')],
    ['GET', principal(), 'GET', { code: 'METHOD_NOT_ALLOWED' }],
  ] as const)('refuses %s', (_name, caller, method, expected) => {
    expect(run(triage, method, caller)).toMatchObject({ ok: false, ...expected });
  });

  it('checks the caller before the text: a token without the scope learns nothing about its query', () => {
    expect(run('not graphql at all', 'POST', principal({ scopes: ['coherence:read'] }))).toMatchObject({ code: 'FORBIDDEN' });
  });

  it.each([
    [
      'too deep',
      `query Deep { signals(tenantId: "acme") ${'{ edges '.repeat(FREE_TEXT_LIMITS.maxDepth)}{ cursor }${' }'.repeat(FREE_TEXT_LIMITS.maxDepth)} }`,
      'nested',
    ],
    ['too many fields', fields(FREE_TEXT_LIMITS.maxFields / 2 + 1), 'fields'],
    ['too many aliases', fields(FREE_TEXT_LIMITS.maxAliases + 1, true), 'aliases'],
    [
      'too many fields once fragments are expanded',
      `query Fan { ...F0 } ${Array.from({ length: 8 }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ')} fragment F8 on Query { tenantCoherence(tenantId: "acme") { status } }`,
      'fields',
    ],
    ['too many tokens', `query Long { ${'__typename '.repeat(FREE_TEXT_LIMITS.maxTokens)} }`, 'tokens'],
  ])('refuses text %s as BAD_USER_INPUT, before validation', (_name, query, word) => {
    const refused = run(query);
    expect(refused).toMatchObject({ ok: false, code: 'BAD_USER_INPUT', message: expect.stringContaining(word) });
  });

  it('leaves a fragment that spreads itself to validation', () => {
    expect(run('query Loop { ...A } fragment A on Query { ...A }')).toMatchObject({
      code: 'BAD_USER_INPUT',
      message: expect.stringContaining('itself'),
    });
  });

  it('refuses everything once `until` has passed, as if break glass were off', () => {
    nowMs = startMs + 60 * 60_000;
    try {
      expect(run()).toMatchObject({ ok: false, code: 'PERSISTED_QUERY_REQUIRED', message: expect.stringContaining('break glass ended') });
    } finally {
      nowMs = startMs;
    }
  });
});
