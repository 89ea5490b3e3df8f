import { createUnleashAdmin } from '@coherence/devservices';
import { flagNames } from '@coherence/flags';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DrillContext, Scenario } from '../scenario';

/** docs/runbooks/kill-switch.md: off refuses reads within 10 s, on serves them again within 10 s. */
const TARGET_MS = 10_000;
const POLL_MS = 100;

let timeToEffectMs: number | null = null;
let refusedWith = '';

function controls(context: DrillContext) {
  if (!context.unleash || !context.read) throw new Error('the kill-switch drill needs the Unleash admin API and a reader');
  return { admin: createUnleashAdmin(context.unleash), read: context.read };
}

/**
 * The `v24.coherence` kill switch flipped off and on again on the Unleash
 * server through its admin API, as an operator would: time to effect (off →
 * the first read refused with FEATURE_DISABLED) and time to recover (on → the
 * first read served again; the runner's heal → healthy, held to 10 s).
 */
export const killSwitch: Scenario = {
  name: 'kill-switch',
  summary: `the ${flagNames.coherence} kill switch off and on again through Unleash's admin API: time to effect and to recover (each < 10 s)`,
  // Reads are refused with 503 FEATURE_DISABLED while it is off: that is the switch working.
  promises: { no5xx: false, maxTimeToHealthyMs: TARGET_MS },
  defaults: { durationMs: 20_000 },
  async inject(context) {
    const { admin, read } = controls(context);
    const startedAt = Date.now();
    timeToEffectMs = null;
    await admin.setFlag(flagNames.coherence, false);
    while (Date.now() - startedAt < TARGET_MS) {
      const answer = await read();
      if (answer.code === 'FEATURE_DISABLED') {
        timeToEffectMs = Date.now() - startedAt;
        refusedWith = `${answer.status} ${answer.code}`;
        return;
      }
      await sleep(POLL_MS);
    }
    throw new Error(`reads were still served ${TARGET_MS} ms after the switch went off`);
  },
  async observe(context) {
    const answer = await controls(context).read();
    return {
      'time to effect (ms)': timeToEffectMs ?? 'not reached',
      'first refusal': refusedWith,
      'reads midway': `${answer.status} ${answer.code ?? ''}`.trim(),
    };
  },
  async heal(context) {
    await controls(context).admin.setFlag(flagNames.coherence, true);
  },
};
