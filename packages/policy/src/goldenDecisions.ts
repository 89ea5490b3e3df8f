import { z } from 'zod';
import type { DecisionChange, ReplayedDecision } from './simulateDecisions';

/**
 * policy/test/golden-decisions.json: decision inputs with what the committed
 * bundle answered when the set was written (`npm run policy -- golden`),
 * from the allow/deny matrix. `npm run policy:check` replays them against the
 * bundle and fails on any change policy/CHANGES.md does not list
 * (docs/adr/0027-policy-simulation.md).
 */
export const goldenDecisionsSchema = z.strictObject({
  /** The bundle version whose answers these are. */
  bundleVersion: z.string(),
  decisions: z.array(z.strictObject({ name: z.string().min(1), input: z.unknown(), allow: z.boolean(), reasonCode: z.string() })),
});
export type GoldenDecisions = z.output<typeof goldenDecisionsSchema>;

export const goldenAsReplayed = (golden: GoldenDecisions): ReplayedDecision[] =>
  golden.decisions.map(({ name, input, allow, reasonCode }) => ({ id: name, input, allow, reasonCode }));

/** A line of policy/CHANGES.md that acknowledges one change: ``- `<golden name>`: FROM → TO`` (anything may follow). */
const acknowledgement = /^[-*] `([^`]+)`: ([A-Z_]+) → ([A-Z_]+)/;

/** The changes of the golden set that no line of policy/CHANGES.md acknowledges with the same name and reason codes. */
export function unacknowledgedChanges(changes: readonly DecisionChange[], changelog: string): DecisionChange[] {
  const acknowledged = new Set(
    changelog
      .split('\n')
      .map((line) => acknowledgement.exec(line.trim()))
      .filter((match) => match !== null)
      .map(([, name, from, to]) => `${name}\u0000${from}\u0000${to}`),
  );
  return changes.filter((change) => !acknowledged.has(`${change.id}\u0000${change.from}\u0000${change.to}`));
}
