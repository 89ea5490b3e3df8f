import { describe, expect, it } from 'vitest';
import {
  correlationIdSchema,
  idempotencyKeySchema,
  isCorrelationId,
  isoDateTimeSchema,
  isoDurationSchema,
  sha256HexSchema,
  tenantIdSchema,
} from './scalars';

describe('scalars', () => {
  it('tenantIdSchema allows [A-Za-z0-9._:-]{1,128} only', () => {
    for (const ok of ['acme', 'ACME-01', 'eu:acme.prod_1', 'a']) expect(tenantIdSchema.safeParse(ok).success).toBe(true);
    for (const bad of ['', 'a b', 'acme/x', 'ä', 'x'.repeat(129), 'a\n']) {
      expect(tenantIdSchema.safeParse(bad).success).toBe(false);
    }
  });

  it('isoDateTimeSchema needs a zone and a real calendar date', () => {
    for (const ok of ['2024-02-29T00:00:00Z', '2024-01-01T00:00:00.5-05:30', '2024-01-01T23:59:59+14:00']) {
      expect(isoDateTimeSchema.safeParse(ok).success).toBe(true);
    }
    for (const bad of ['2023-02-29T00:00:00Z', '2024-01-01T00:00:00', '2024-01-01T24:00:00Z', '1714564800']) {
      expect(isoDateTimeSchema.safeParse(bad).success).toBe(false);
    }
  });

  it('isoDateTimeSchema refuses what Postgres cannot hold (year 0000, offsets beyond ±15:59) as storable_instant', () => {
    for (const ok of ['0001-01-01T00:00:00Z', '2024-01-01T00:00:00+15:59', '2024-01-01T00:00:00-15:59']) {
      expect(isoDateTimeSchema.safeParse(ok).success).toBe(true);
    }
    for (const bad of ['0000-01-01T00:00:00Z', '2024-01-01T00:00:00+16:00', '2024-01-01T00:00:00-23:59']) {
      const result = isoDateTimeSchema.safeParse(bad);
      expect(result.error?.issues).toEqual([expect.objectContaining({ code: 'custom', params: { rule: 'storable_instant' } })]);
    }
  });

  it('isoDurationSchema accepts ISO-8601 durations', () => {
    for (const ok of ['PT24H', 'P7D', 'PT15M', 'P1DT12H']) expect(isoDurationSchema.safeParse(ok).success).toBe(true);
    for (const bad of ['24h', 'PT', 'P', '']) expect(isoDurationSchema.safeParse(bad).success).toBe(false);
  });

  it('sha256HexSchema wants 64 lowercase hex', () => {
    expect(sha256HexSchema.safeParse('a'.repeat(64)).success).toBe(true);
    expect(sha256HexSchema.safeParse('A'.repeat(64)).success).toBe(false);
    expect(sha256HexSchema.safeParse('a'.repeat(63)).success).toBe(false);
  });

  it('correlation ids and idempotency keys are visible ASCII without spaces', () => {
    expect(correlationIdSchema.safeParse('4bf92f3577b34da6a3ce929d0e0e4736').success).toBe(true);
    expect(correlationIdSchema.safeParse('req 1').success).toBe(false);
    expect(correlationIdSchema.safeParse('req\r\nx-evil: 1').success).toBe(false);
    expect(correlationIdSchema.safeParse('x'.repeat(129)).success).toBe(false);
    expect(idempotencyKeySchema.safeParse('k'.repeat(256)).success).toBe(true);
    expect(idempotencyKeySchema.safeParse('k'.repeat(257)).success).toBe(false);
    expect(idempotencyKeySchema.safeParse('').success).toBe(false);
  });

  it('isCorrelationId agrees with correlationIdSchema', () => {
    for (const value of ['abc', '', 'a b', 'x'.repeat(128), 'x'.repeat(129), 'é', crypto.randomUUID()]) {
      expect(isCorrelationId(value)).toBe(correlationIdSchema.safeParse(value).success);
    }
  });
});
