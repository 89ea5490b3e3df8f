import { POLICY_REASON_CODES, type PolicyReasonCode } from '@coherence/contracts';
import type { Logger } from '@coherence/platform';
import { loadPolicyBundle, type PolicyBundle } from './loadPolicyBundle';
import type { PolicyInput } from './buildPolicyInput';

export type { PolicyInput };

export interface PolicyVerdict {
  allow: boolean;
  /** A {@link POLICY_REASON_CODES} value, or another UPPER_SNAKE code from the Rego. */
  reasonCode: PolicyReasonCode | (string & {});
  explanation: string;
  /** The bundle that decided; null when none was active. */
  bundleSha256: string | null;
}

export type ActivationResult = { ok: true; version: string; sha256: string } | { ok: false; error: string };

/**
 * Holds exactly one active policy bundle. `activate` swaps in a new one only
 * if it loads and verifies; otherwise the previous one stays active. With no
 * active bundle, or when evaluation fails, every request is denied.
 */
export function createPolicyEngine(logger: Logger) {
  let active: PolicyBundle | undefined;

  return {
    async activate(dir: string): Promise<ActivationResult> {
      try {
        const bundle = await loadPolicyBundle(dir);
        if (bundle.sha256 !== active?.sha256)
          logger.info({ version: bundle.version, sha256: bundle.sha256, dir }, 'policy bundle activated');
        active = bundle;
        return { ok: true, version: bundle.version, sha256: bundle.sha256 };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        logger.error({ dir, error: message, kept: active?.sha256 ?? null }, 'policy bundle refused; the previous one stays active');
        return { ok: false, error: message };
      }
    },

    decide(input: PolicyInput): PolicyVerdict {
      const bundle = active;
      if (!bundle) {
        return {
          allow: false,
          reasonCode: POLICY_REASON_CODES.NO_ACTIVE_BUNDLE,
          explanation: 'no policy bundle is active',
          bundleSha256: null,
        };
      }
      try {
        return { ...bundle.evaluate(input), bundleSha256: bundle.sha256 };
      } catch (error) {
        logger.error({ err: error }, 'policy evaluation failed');
        return {
          allow: false,
          reasonCode: POLICY_REASON_CODES.POLICY_ERROR,
          explanation: 'policy evaluation failed',
          bundleSha256: bundle.sha256,
        };
      }
    },

    /** The active bundle's identity, for /readyz and logs. */
    activeBundle: (): { version: string; sha256: string } | undefined =>
      active ? { version: active.version, sha256: active.sha256 } : undefined,
  };
}

export type PolicyEngine = ReturnType<typeof createPolicyEngine>;
