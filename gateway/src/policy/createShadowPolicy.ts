import type { Logger } from '@coherence/platform';
import { createPolicyEngine, policyBundleFiles, type PolicyInput, type PolicyVerdict, type ShadowVerdict } from '@coherence/policy';
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import type { SecurityMetrics } from '../createSecurityMetrics';

export interface ShadowPolicyOptions {
  /** GATEWAY_SHADOW_BUNDLE_DIR: the candidate bundle folder. */
  dir: string;
  /** The key live bundles are signed with: a candidate is signed like the bundle it would replace. */
  publicKey: KeyObject;
  logger: Logger;
  metrics: SecurityMetrics;
}

/**
 * Shadow mode (docs/adr/0027-policy-simulation.md): a second engine holding a
 * candidate bundle, asked after the live decision with the same input. What
 * it answers is kept with the decision and counted when it differs; it never
 * decides. A candidate that does not load, or fails on a request, is logged
 * and counted, and the request goes on as if there were no shadow.
 */
export async function createShadowPolicy(options: ShadowPolicyOptions) {
  const { dir, logger, metrics } = options;
  // Any version may be a candidate, including one older than the live bundle.
  const engine = createPolicyEngine({ logger, publicKey: options.publicKey, allowRollback: true });
  const activate = async () => {
    const result = await engine.activate(dir);
    if (!result.ok) metrics.policyShadowFailures.inc({ stage: 'activation' });
  };
  await activate();

  return {
    /** The shadow bundle's answer for `input`, counted when it differs from `verdict`; undefined without an active shadow bundle or when it failed. */
    compare(input: PolicyInput, verdict: PolicyVerdict): ShadowVerdict | undefined {
      let shadow: PolicyVerdict | undefined;
      try {
        shadow = engine.evaluate(input);
      } catch (error) {
        logger.warn({ err: error, dir }, 'shadow policy evaluation failed; the live decision stands');
        metrics.policyShadowFailures.inc({ stage: 'evaluation' });
        return undefined;
      }
      if (!shadow?.bundleSha256) return undefined;
      if (shadow.reasonCode !== verdict.reasonCode) {
        const change = shadow.allow === verdict.allow ? 'reason' : verdict.allow ? 'allow_to_deny' : 'deny_to_allow';
        metrics.policyShadowDisagreements.inc({ change, reason_code: shadow.reasonCode });
      }
      return { allow: shadow.allow, reasonCode: shadow.reasonCode, bundleSha256: shadow.bundleSha256 };
    },
    /** Re-reads the folder (a refused bundle keeps the previous one, as for the live bundle). */
    reload: activate,
    /** Written last by the build: its change means the bundle is complete. */
    watchedFile: join(dir, policyBundleFiles.signatures),
  };
}

export type ShadowPolicy = Awaited<ReturnType<typeof createShadowPolicy>>;
