import { z } from 'zod';
import { storableStringSchema } from './scalars';

/**
 * One problem found in an input, in the machine-readable form that producers
 * receive (HTTP 400 `issues`, GraphQL `InputError.fields`, config errors).
 *
 * - `path` locates the offending value: keys joined with dots, array indexes in
 *   brackets, e.g. `signals[0].value`. The root value itself is `''`. Keys that
 *   are not plain identifiers are written as quoted brackets: `payload["X-Id"]`.
 * - `rule` is a short, stable machine word (see {@link VALIDATION_RULES}); clients
 *   branch on it, so it never changes with zod versions or message wording.
 * - `message` is for humans and may change wording between releases.
 */
export interface ValidationIssue {
  path: string;
  rule: string;
  message: string;
}

/** Runtime validator for {@link ValidationIssue}, for clients reading error bodies. */
export const validationIssueSchema = z.strictObject({
  path: storableStringSchema.max(1024),
  rule: storableStringSchema.min(1).max(64),
  message: storableStringSchema.max(1024),
});

/**
 * Every rule word this package emits. Custom refinements add their own word via
 * `params: { rule }`; those used by this package are listed here too.
 */
export const VALIDATION_RULES = [
  /** A required field is missing (or `undefined`). */
  'required',
  /** The value has the wrong type (including NaN/Infinity for numbers, or no union branch matched). */
  'type',
  /** A number had a fraction where an integer is required. */
  'integer',
  /** Number below its minimum, or string shorter than its minimum length. */
  'min',
  /** Number above its maximum, or string longer than its maximum length. */
  'max',
  /** A number must be strictly greater than zero. */
  'positive',
  /** Array has fewer items than allowed. */
  'too_few',
  /** Array has more items than allowed. */
  'too_many',
  /** String does not match its format (ISO date-time, uuid, pattern, …). */
  'format',
  /** Value is not one of the allowed literals. */
  'enum',
  /** A key not in a strict object's shape; one issue per key, at that key's path. */
  'unknown_field',
  /** Number not a multiple of the required step. */
  'multiple_of',
  /** A record key failed validation. */
  'invalid_key',
  /** A set/map element failed validation. */
  'invalid_element',
  /** A timestamp lies further in the future than the allowed clock skew. */
  'not_future',
  /** Two fields contradict each other (e.g. `status` UNKNOWN with a non-null `score`). */
  'consistency',
  /** A nested record belongs to another tenant than its container. */
  'tenant_mismatch',
  /**
   * A string holds a NUL character or a lone UTF-16 surrogate, which the stores
   * refuse or alter (see `isStorableString`); strings are otherwise kept as sent.
   */
  'storable_string',
  /** A date-time a store cannot hold as written: year 0000, or a zone offset beyond ±15:59. */
  'storable_instant',
  /** A refinement without an explicit rule word. */
  'custom',
] as const;

/** A rule word this package emits; {@link ValidationIssue.rule} stays `string` so clients tolerate new ones. */
export type ValidationRule = (typeof VALIDATION_RULES)[number];

/** Result of {@link validate}: the parsed value, or every problem found. */
export type ValidationResult<T> = { ok: true; value: T } | { ok: false; issues: ValidationIssue[] };

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const RULE_WORD = /^[a-z][a-z0-9_]*$/;

/**
 * Writes a zod issue path as `signals[0].value`; the root is `''`.
 * Non-identifier keys become `["some-key"]` so the path stays unambiguous.
 */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') {
      out += `[${segment}]`;
      continue;
    }
    const key = typeof segment === 'symbol' ? (segment.description ?? '') : segment;
    if (IDENTIFIER.test(key)) {
      out += out === '' ? key : `.${key}`;
    } else {
      out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

/** Options for {@link toValidationIssues}. */
export interface ToValidationIssuesOptions {
  /**
   * The value that was parsed. Only needed when the issues come from a parse
   * without `reportInput: true`: zod then omits each issue's input, and the
   * original value is the only way to tell a missing field (`required`) from a
   * wrongly typed one (`type`). Without either, a missing field reads as `type`.
   */
  input?: unknown;
}

/**
 * Converts zod issues into {@link ValidationIssue}s with stable rule words.
 * `unrecognized_keys` fans out into one `unknown_field` issue per key.
 */
export function toValidationIssues(issues: readonly z.core.$ZodIssue[], options: ToValidationIssuesOptions = {}): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({
          path: formatIssuePath([...issue.path, key]),
          rule: 'unknown_field',
          message: `Unknown field ${JSON.stringify(key)}`,
        });
      }
      continue;
    }
    const rule = ruleFor(issue, options);
    out.push({
      path: formatIssuePath(issue.path),
      rule,
      message: rule === 'required' ? 'Required field is missing' : issue.message,
    });
  }
  return out;
}

function ruleFor(issue: z.core.$ZodIssue, options: ToValidationIssuesOptions): string {
  switch (issue.code) {
    case 'invalid_type':
      if (isMissing(issue, options)) return 'required';
      if (issue.expected === 'int') return 'integer';
      return 'type';
    case 'too_small':
      if (issue.origin === 'array' || issue.origin === 'set') return 'too_few';
      if (isNumericOrigin(issue.origin) && Number(issue.minimum) === 0 && issue.inclusive === false) {
        return 'positive';
      }
      return 'min';
    case 'too_big':
      if (issue.origin === 'array' || issue.origin === 'set') return 'too_many';
      return 'max';
    case 'invalid_format':
      return 'format';
    case 'invalid_value':
      return 'enum';
    case 'invalid_union':
      // A discriminated union that found no branch is an unknown tag value.
      return issue.discriminator !== undefined ? 'enum' : 'type';
    case 'not_multiple_of':
      return 'multiple_of';
    case 'invalid_key':
      return 'invalid_key';
    case 'invalid_element':
      return 'invalid_element';
    case 'custom': {
      const rule: unknown = issue.params?.['rule'];
      return typeof rule === 'string' && RULE_WORD.test(rule) ? rule : 'custom';
    }
    case 'unrecognized_keys':
      return 'unknown_field';
  }
}

function isMissing(issue: z.core.$ZodIssue, options: ToValidationIssuesOptions): boolean {
  // With reportInput zod sets the key (possibly to undefined); without it the key is absent.
  if ('input' in issue) return issue.input === undefined;
  if ('input' in options) return valueAt(options.input, issue.path) === undefined;
  return false;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

function isNumericOrigin(origin: string): boolean {
  return origin === 'number' || origin === 'int' || origin === 'bigint';
}

/**
 * Parses `input` with `schema` and reports ALL problems, not just the first.
 * The schema must be synchronous (no async refinements); zod throws otherwise.
 */
export function validate<S extends z.ZodType>(schema: S, input: unknown): ValidationResult<z.output<S>> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, issues: toValidationIssues(result.error.issues) };
}

/** One line per issue (`path: rule — message`), for logs and startup errors. */
export function formatValidationIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((issue) => `${issue.path === '' ? '(root)' : issue.path}: ${issue.rule} — ${issue.message}`).join('\n');
}
