import { SCOPES } from '@coherence/auth';
import { boundedString, formatIssuePath, tenantIdSchema } from '@coherence/contracts';
import { z } from 'zod';

/** Why the admin API refuses a change; the GraphQL error carries the code and the field. */
export const tenantAdminErrorCodes = {
  INVALID_INPUT: 'a field is malformed or out of bounds',
  TENANT_EXISTS: 'a tenant with this id exists',
  TENANT_NOT_FOUND: 'no tenant has this id',
  TENANT_ADMIN_DISABLED: 'this comms instance has no tenant-admin database (COMMS_ADMIN_DATABASE_URL)',
} as const;
export type TenantAdminErrorCode = keyof typeof tenantAdminErrorCodes;

/** A change the admin API refuses: `field` is the input's path (`settings.weight`), as the GraphQL error names it. */
export class TenantAdminError extends Error {
  constructor(
    readonly code: TenantAdminErrorCode,
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'TenantAdminError';
  }
}

const regionSchema = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, { error: 'Must be a region name: a-z, 0-9 and "-", at most 32' });
// Bounds that keep the gateway's and ingest's arithmetic sane (a weight of 1e300 would overflow the limiter's rates).
const shareSchema = z.number().positive().max(1_000);

/** A tenant's settings as the admin API sets them; absent on update means unchanged, null means "the default". */
export const tenantSettingsSchema = z.strictObject({
  name: z.string().max(200, { error: 'Must be at most 200 characters' }).optional(),
  residency: regionSchema.optional(),
  region: regionSchema.nullable().optional(),
  weight: shareSchema.optional(),
  cacheTtlSeconds: z.int().min(1).max(86_400).nullable().optional(),
  rateShare: shareSchema.nullable().optional(),
  budgetUnits: z.int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional(),
});
export type TenantSettings = z.output<typeof tenantSettingsSchema>;

export const newTenantSchema = z.strictObject({
  tenantId: tenantIdSchema,
  settings: tenantSettingsSchema.required({ residency: true }),
});

const minuteOfDay = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, { error: 'Must be HH:MM, 00:00..23:59' });

/** Quiet hours in the tenant's time zone; `startsAt` after `endsAt` spans midnight. */
export const quietHoursSchema = z.strictObject({
  timeZone: z.string().refine(isTimeZone, { error: 'Must be an IANA time zone, e.g. Europe/Berlin' }),
  startsAt: minuteOfDay,
  endsAt: minuteOfDay,
});
export type QuietHours = z.output<typeof quietHoursSchema>;

export const contactSchema = z.strictObject({
  contactId: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'Must be 1..64 of A-Z a-z 0-9 . _ -' }),
  url: boundedString(2_048).refine(isHttpUrl, { error: 'Must be an http or https URL' }),
});
export type Contact = z.output<typeof contactSchema>;

const knownScopes: readonly string[] = Object.values(SCOPES);

export const apiClientSchema = z.strictObject({
  clientId: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, { error: 'Must be 1..128 of A-Z a-z 0-9 . _ : -' }),
  scopes: z
    .array(z.string().refine((scope) => knownScopes.includes(scope), { error: `Must be one of ${knownScopes.join(', ')}` }))
    .max(knownScopes.length),
  enabled: z.boolean(),
});
export type ApiClient = z.output<typeof apiClientSchema>;

/** `value` parsed by `schema`, or an INVALID_INPUT {@link TenantAdminError} naming the first field it refuses (under `prefix`). */
export function parseAdminInput<Schema extends z.ZodType>(schema: Schema, value: unknown, prefix?: string): z.output<Schema> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  // An unknown key is reported on the object; name the key itself.
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path;
  const field = [prefix, formatIssuePath(path)].filter((part) => part).join('.');
  throw new TenantAdminError('INVALID_INPUT', field || '(input)', issue.message);
}

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

function isHttpUrl(value: string): boolean {
  return URL.canParse(value) && ['http:', 'https:'].includes(new URL(value).protocol);
}
