import { z } from 'zod';
import {
  boundedString,
  correlationIdSchema,
  isoDateTimeSchema,
  sha256HexSchema,
  storableStringSchema,
  tenantIdSchema,
  uuidSchema,
} from './scalars';

/**
 * Reason codes this platform's policy and gateway produce. The schema accepts
 * any UPPER_SNAKE code so a new Rego rule does not need a contracts release;
 * these are the ones code may rely on.
 */
export const POLICY_REASON_CODES = {
  /** The only code of an allowed decision. */
  ALLOWED: 'ALLOWED',
  /** The token lacks the scope the operation needs. */
  SCOPE_MISSING: 'SCOPE_MISSING',
  /** The token's tenant is not the tenant the operation targets. */
  TENANT_MISMATCH: 'TENANT_MISMATCH',
  /** The tenant's data may not be read or written in this region (or the token may not act here). */
  RESIDENCY_VIOLATION: 'RESIDENCY_VIOLATION',
  /** A write for a tenant that is not registered (reads of one are RESIDENCY_VIOLATION). */
  TENANT_UNKNOWN: 'TENANT_UNKNOWN',
  /** The tenant is suspended (docs/adr/0031-tenant-administration.md): only its administration is served. */
  TENANT_SUSPENDED: 'TENANT_SUSPENDED',
  /** A kill switch has paused the feature. */
  FEATURE_PAUSED: 'FEATURE_PAUSED',
  /** No valid bundle is active: fail closed. */
  NO_ACTIVE_BUNDLE: 'NO_ACTIVE_BUNDLE',
  /** Evaluation failed (bad input, Wasm error): fail closed. */
  POLICY_ERROR: 'POLICY_ERROR',
} as const;

/** A reason code known to this package (see {@link POLICY_REASON_CODES}). */
export type PolicyReasonCode = (typeof POLICY_REASON_CODES)[keyof typeof POLICY_REASON_CODES];

/** Reason code: UPPER_SNAKE, ≤ 64 characters. */
export const policyReasonCodeSchema = storableStringSchema.regex(/^[A-Z][A-Z0-9_]{0,63}$/, {
  error: 'Must be an UPPER_SNAKE code of at most 64 characters',
});

/** What kind of operation was decided on: a GraphQL operation type, or a signal write (`ingest`, HTTP or Kafka). */
export const policyOperationTypeSchema = z.enum(['query', 'mutation', 'subscription', 'ingest']);

/** See {@link policyOperationTypeSchema}. */
export type PolicyOperationType = z.output<typeof policyOperationTypeSchema>;

/**
 * One policy decision, allowed or denied, as persisted for audit. Strict.
 * Consistency (rule `consistency`): `allow` is true exactly when `reasonCode`
 * is `ALLOWED`, and `bundleSha256` is null only for a denial (no bundle was
 * active, so nothing could have allowed it).
 */
export const policyDecisionSchema = z
  .strictObject({
    decisionId: uuidSchema,
    /** The tenant the operation targets. */
    tenantId: tenantIdSchema,
    /** Token `sub` (user or client) the decision was made for. */
    subject: boundedString(256),
    /** Persisted operation id (sha256) or, for ingest, the route or topic. */
    operationId: boundedString(256),
    operationType: policyOperationTypeSchema,
    allow: z.boolean(),
    reasonCode: policyReasonCodeSchema,
    /** Human-readable; stored for operators, never sent to clients. */
    explanation: boundedString(2048),
    /** sha256 of the active bundle; null when none was active (fail closed). */
    bundleSha256: sha256HexSchema.nullable(),
    correlationId: correlationIdSchema,
    decidedAt: isoDateTimeSchema,
  })
  .superRefine((decision, ctx) => {
    const isAllowedCode = decision.reasonCode === POLICY_REASON_CODES.ALLOWED;
    if (decision.allow !== isAllowedCode) {
      ctx.addIssue({
        code: 'custom',
        path: ['reasonCode'],
        message: decision.allow ? 'Must be ALLOWED when allow is true' : 'Must not be ALLOWED when allow is false',
        params: { rule: 'consistency' },
      });
    }
    if (decision.allow && decision.bundleSha256 === null) {
      ctx.addIssue({
        code: 'custom',
        path: ['bundleSha256'],
        message: 'Must be set when allow is true',
        params: { rule: 'consistency' },
      });
    }
  });

/** See {@link policyDecisionSchema}. */
export type PolicyDecision = z.output<typeof policyDecisionSchema>;
