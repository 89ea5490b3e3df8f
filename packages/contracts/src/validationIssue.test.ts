import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isStorableString } from './scalars';
import { formatIssuePath, formatValidationIssues, toValidationIssues, validate, VALIDATION_RULES } from './validationIssue';

describe('formatIssuePath', () => {
  it('writes the root as an empty string', () => {
    expect(formatIssuePath([])).toBe('');
  });

  it('joins keys with dots and indexes with brackets', () => {
    expect(formatIssuePath(['signals', 0, 'value'])).toBe('signals[0].value');
    expect(formatIssuePath([0, 'a', 12, 3])).toBe('[0].a[12][3]');
  });

  it('quotes keys that are not identifiers so the path stays unambiguous', () => {
    expect(formatIssuePath(['payload', 'X-Request-Id'])).toBe('payload["X-Request-Id"]');
    expect(formatIssuePath(['a.b'])).toBe('["a.b"]');
    expect(formatIssuePath(['payload', '0'])).toBe('payload["0"]');
  });

  it('escapes a key holding a NUL or a lone surrogate, so the path itself can be stored and sent', () => {
    const path = formatIssuePath(['payload', 'a\u0000', '\ud800']);
    expect(path).toBe('payload["a\\u0000"]["\\ud800"]');
    expect(isStorableString(path)).toBe(true);
    expect(VALIDATION_RULES).toContain('storable_string');
  });
});

describe('validate', () => {
  const schema = z.strictObject({
    name: z.string().min(1).max(3),
    count: z.int().min(0),
    ratio: z.number().positive(),
    tags: z.array(z.string()).min(1).max(2),
    kind: z.enum(['a', 'b']),
    nested: z.strictObject({ id: z.uuid() }).optional(),
  });
  const valid = { name: 'ab', count: 1, ratio: 0.5, tags: ['x'], kind: 'a' };

  it('returns the parsed value when valid', () => {
    expect(validate(schema, valid)).toEqual({ ok: true, value: valid });
  });

  it('lists every problem, not only the first', () => {
    const result = validate(schema, { name: 'abcd', count: 1.5, ratio: 0, tags: [], kind: 'c' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map(({ path, rule }) => ({ path, rule }))).toEqual([
      { path: 'name', rule: 'max' },
      { path: 'count', rule: 'integer' },
      { path: 'ratio', rule: 'positive' },
      { path: 'tags', rule: 'too_few' },
      { path: 'kind', rule: 'enum' },
    ]);
    for (const issue of result.issues) expect(issue.message).not.toBe('');
  });

  it('tells a missing field (required) from a wrongly typed one (type)', () => {
    const result = validate(schema, { ...valid, name: undefined, count: 'one' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([
      { path: 'name', rule: 'required', message: 'Required field is missing' },
      expect.objectContaining({ path: 'count', rule: 'type' }),
    ]);
  });

  it('reports one unknown_field issue per unknown key, at that key', () => {
    const result = validate(schema, { ...valid, extra: 1, 'odd-key': 2, nested: { id: crypto.randomUUID(), deep: true } });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual(
      expect.arrayContaining([
        { path: 'extra', rule: 'unknown_field', message: 'Unknown field "extra"' },
        { path: '["odd-key"]', rule: 'unknown_field', message: 'Unknown field "odd-key"' },
        { path: 'nested.deep', rule: 'unknown_field', message: 'Unknown field "deep"' },
      ]),
    );
    expect(result.issues).toHaveLength(3);
  });

  it('reports a wrong root type at path ""', () => {
    const result = validate(schema, 'nope');
    expect(result).toEqual({ ok: false, issues: [expect.objectContaining({ path: '', rule: 'type' })] });
  });

  it('maps too_many and min on arrays and numbers', () => {
    const result = validate(schema, { ...valid, count: -1, tags: ['a', 'b', 'c'] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => `${i.path}:${i.rule}`)).toEqual(['count:min', 'tags:too_many']);
  });

  it('maps a bad uuid to format', () => {
    const result = validate(schema, { ...valid, nested: { id: 'not-a-uuid' } });
    expect(result).toEqual({ ok: false, issues: [expect.objectContaining({ path: 'nested.id', rule: 'format' })] });
  });

  it('uses the rule word a refinement names, else "custom"', () => {
    const refined = z.number().superRefine((n, ctx) => {
      if (n > 1) ctx.addIssue({ code: 'custom', message: 'too late', params: { rule: 'not_future' } });
      if (n > 2) ctx.addIssue({ code: 'custom', message: 'plain' });
      if (n > 3) ctx.addIssue({ code: 'custom', message: 'bad word', params: { rule: 'Not A Word' } });
    });
    const result = validate(refined, 4);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.rule)).toEqual(['not_future', 'custom', 'custom']);
  });

  it('maps a failed discriminated union tag to enum and a failed plain union to type', () => {
    const tagged = z.discriminatedUnion('t', [z.object({ t: z.literal('a') }), z.object({ t: z.literal('b') })]);
    expect(validate(tagged, { t: 'c' })).toEqual({
      ok: false,
      issues: [expect.objectContaining({ path: 't', rule: 'enum' })],
    });
    const plain = z.record(z.string(), z.union([z.string(), z.array(z.string())]));
    expect(validate(plain, { k: 1 })).toEqual({ ok: false, issues: [expect.objectContaining({ path: 'k', rule: 'type' })] });
  });
});

describe('toValidationIssues', () => {
  const schema = z.strictObject({ a: z.string(), b: z.string() });

  it('uses the original input to find missing fields when zod did not report inputs', () => {
    const input = { b: 1 };
    const parsed = schema.safeParse(input);
    expect(parsed.success).toBe(false);
    if (parsed.success) return;
    expect(toValidationIssues(parsed.error.issues, { input }).map((i) => i.rule)).toEqual(['required', 'type']);
    // Without either source it cannot know, and says "type" rather than guess "required".
    expect(toValidationIssues(parsed.error.issues).map((i) => i.rule)).toEqual(['type', 'type']);
  });
});

describe('formatValidationIssues', () => {
  it('writes one line per issue and names the root', () => {
    expect(
      formatValidationIssues([
        { path: '', rule: 'type', message: 'Expected object' },
        { path: 'a.b', rule: 'max', message: 'Too big' },
      ]),
    ).toBe('(root): type — Expected object\na.b: max — Too big');
  });
});
