import { z } from 'zod';

/** Every configuration problem found at start-up, reported together. */
export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly problems: readonly string[],
  ) {
    super(`invalid configuration for ${service}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads a service's configuration once: validates the environment against a
 * zod object whose keys are variable names, reports every problem at once,
 * and returns a frozen, typed result. This is the only place that reads
 * `process.env` (services call it from their `config.ts`).
 */
export function loadConfig<S extends z.ZodObject>(
  service: string,
  schema: S,
  env: Record<string, string | undefined> = process.env,
): Readonly<z.output<S>> {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(
      service,
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  return Object.freeze(result.data);
}

/** Shared building blocks for config schemas, so every service spells them alike. */
export const configFields = {
  port: (defaultPort: number) => z.coerce.number().int().min(0).max(65_535).default(defaultPort),
  host: () => z.string().min(1).default('127.0.0.1'),
  url: () => z.url(),
  /** A region tag such as `us` or `eu`, as `tenants.residency` spells it. */
  region: () => z.string().regex(/^[a-z][a-z0-9-]*$/, { error: 'a region tag such as us or eu' }),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  positiveInt: (defaultValue: number) => z.coerce.number().int().positive().default(defaultValue),
  /** A comma-separated list: items trimmed, empty ones dropped; unset is the empty list. */
  commaList: () =>
    z
      .string()
      .default('')
      .transform((value) =>
        value
          .split(',')
          .map((part) => part.trim())
          .filter((part) => part.length > 0),
      ),
  /** {@link configFields.commaList} that must name at least one item. */
  nonEmptyCommaList: () => configFields.commaList().refine((items) => items.length > 0, { error: 'at least one value, comma-separated' }),
};
