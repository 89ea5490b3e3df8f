import { POLICY_REASON_CODES, type PolicyReasonCode } from '@coherence/contracts';
import type { Logger } from '@coherence/platform';
import type { KeyObject } from 'node:crypto';
import { isOlderVersion, refusal, type ActivationResult } from './activationResult';
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

export interface PolicyEngineOptions {
  logger: Logger;
  /** The pinned key bundles must be signed with (GATEWAY_POLICY_PUBLIC_KEY). */
  publicKey: KeyObject;
  /** Activate a bundle whose version is lower than the active one's (GATEWAY_ALLOW_ROLLBACK); otherwise it is refused. */
  allowRollback: boolean;
}

/**
 * Holds exactly one active policy bundle. `activate` swaps in a new one only
 * if it is signed by the pinned key, loads and verifies, and is not older
 * than the active one (unless rollback is allowed); otherwise the previous
 * one stays active. With no active bundle, or when evaluation fails, every
 * request is denied.
 */
export function createPolicyEngine({ logger, publicKey, allowRollback }: PolicyEngineOptions) {
  let active: PolicyBundle | undefined;

  const refuse = (dir: string, result: ActivationResult & { ok: false }): ActivationResult => {
    logger.error(
      { dir, reason: result.reason, error: result.error, kept: active?.sha256 ?? null },
      'policy bundle refused; the previous one stays active',
    );
    return result;
  };

  const evaluate = (input: PolicyInput): PolicyVerdict | undefined => {
    const bundle = active;
    return bundle && { ...bundle.evaluate(input), bundleSha256: bundle.sha256 };
  };

  return {
    async activate(dir: string): Promise<ActivationResult> {
      let bundle: PolicyBundle;
      try {
        bundle = await loadPolicyBundle(dir, publicKey);
      } catch (error) {
        return refuse(dir, refusal(error));
      }
      if (active && !allowRollback && isOlderVersion(bundle.version, active.version))
        return refuse(dir, {
          ok: false,
          reason: 'ROLLBACK',
          error: `version ${bundle.version} is older than the active ${active.version}`,
        });
      if (bundle.sha256 !== active?.sha256) logger.info({ version: bundle.version, sha256: bundle.sha256, dir }, 'policy bundle activated');
      active = bundle;
      return { ok: true, version: bundle.version, sha256: bundle.sha256, keyId: bundle.keyId };
    },

    decide(input: PolicyInput): PolicyVerdict {
      try {
        return (
          evaluate(input) ?? {
            allow: false,
            reasonCode: POLICY_REASON_CODES.NO_ACTIVE_BUNDLE,
            explanation: 'no policy bundle is active',
            bundleSha256: null,
          }
        );
      } catch (error) {
        logger.error({ err: error }, 'policy evaluation failed');
        return {
          allow: false,
          reasonCode: POLICY_REASON_CODES.POLICY_ERROR,
          explanation: 'policy evaluation failed',
          bundleSha256: active?.sha256 ?? null,
        };
      }
    },

    /**
     * The active bundle's answer, undefined when none is active; throws when
     * the evaluation fails. For a shadow bundle, whose failure must be told
     * apart from a denial (docs/adr/0027-policy-simulation.md).
     */
    evaluate,

    /** The active bundle's identity, for /readyz and logs. */
    activeBundle: (): { version: string; sha256: string } | undefined =>
      active ? { version: active.version, sha256: active.sha256 } : undefined,
  };
}

export type PolicyEngine = ReturnType<typeof createPolicyEngine>;
