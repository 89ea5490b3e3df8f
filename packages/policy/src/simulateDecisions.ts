import { POLICY_REASON_CODES } from '@coherence/contracts';
import type { PolicyBundle } from './loadPolicyBundle';

/** One decision to replay: the input the live bundle was asked, and what it answered. */
export interface ReplayedDecision {
  /** The decision id (policy_decisions) or the golden case's name. */
  id: string;
  /** The tenant it was filed under; absent for golden cases. */
  tenantId?: string;
  input: unknown;
  allow: boolean;
  reasonCode: string;
}

/** allow → deny, deny → allow, or denied for another reason. */
export type DecisionChangeKind = 'allow_to_deny' | 'deny_to_allow' | 'reason';

export interface DecisionChange {
  id: string;
  tenantId?: string;
  kind: DecisionChangeKind;
  from: string;
  to: string;
  /** The candidate's explanation. */
  explanation: string;
}

export interface DecisionChangeGroup {
  kind: DecisionChangeKind;
  from: string;
  to: string;
  count: number;
  examples: DecisionChange[];
}

export interface SimulationReport {
  candidate: { version: string; sha256: string };
  replayed: number;
  changed: number;
  /** By kind and reason codes, most changes first. */
  groups: DecisionChangeGroup[];
  /** Every change, in replay order, up to `maxListed`. */
  changes: DecisionChange[];
  /** More changes than `maxListed`: `changes` lists the first ones, the groups count all. */
  truncated: boolean;
}

export interface SimulationOptions {
  examplesPerGroup?: number;
  maxListed?: number;
}

const kindOf = (from: { allow: boolean }, to: { allow: boolean }): DecisionChangeKind =>
  from.allow === to.allow ? 'reason' : from.allow ? 'allow_to_deny' : 'deny_to_allow';

/**
 * Replays recorded decisions against a candidate bundle, in memory: nothing
 * is written, nothing is answered (docs/adr/0027-policy-simulation.md). A
 * decision changes when the candidate answers another reason code (which
 * includes every allow ↔ deny flip). A candidate that fails on an input
 * answers POLICY_ERROR, as the live engine would. Decisions are added one
 * at a time, so a day of traffic never has to be held at once.
 */
export function createSimulation(candidate: Pick<PolicyBundle, 'version' | 'sha256' | 'evaluate'>, options: SimulationOptions = {}) {
  const examplesPerGroup = options.examplesPerGroup ?? 5;
  const maxListed = options.maxListed ?? 10_000;
  const groups = new Map<string, DecisionChangeGroup>();
  const changes: DecisionChange[] = [];
  let replayed = 0;
  let changed = 0;

  const answer = (input: unknown): { allow: boolean; reasonCode: string; explanation: string } => {
    try {
      return candidate.evaluate(input);
    } catch {
      return { allow: false, reasonCode: POLICY_REASON_CODES.POLICY_ERROR, explanation: 'policy evaluation failed' };
    }
  };

  return {
    add(decision: ReplayedDecision): void {
      replayed += 1;
      const verdict = answer(decision.input);
      if (verdict.reasonCode === decision.reasonCode) return;
      changed += 1;
      const change: DecisionChange = {
        id: decision.id,
        ...(decision.tenantId === undefined ? {} : { tenantId: decision.tenantId }),
        kind: kindOf(decision, verdict),
        from: decision.reasonCode,
        to: verdict.reasonCode,
        explanation: verdict.explanation,
      };
      if (changes.length < maxListed) changes.push(change);
      const key = `${change.kind} ${change.from} ${change.to}`;
      const group = groups.get(key) ?? { kind: change.kind, from: change.from, to: change.to, count: 0, examples: [] };
      group.count += 1;
      if (group.examples.length < examplesPerGroup) group.examples.push(change);
      groups.set(key, group);
    },

    report(): SimulationReport {
      return {
        candidate: { version: candidate.version, sha256: candidate.sha256 },
        replayed,
        changed,
        groups: [...groups.values()].sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind) || a.to.localeCompare(b.to)),
        changes,
        truncated: changed > changes.length,
      };
    },
  };
}

const kindLabels: Record<DecisionChangeKind, string> = {
  allow_to_deny: 'allow → deny',
  deny_to_allow: 'deny → allow',
  reason: 'deny → deny',
};

/** The report for a terminal: one block per group with its count and examples. */
export function formatSimulationReport(report: SimulationReport): string {
  const lines = [
    `candidate bundle ${report.candidate.version} (${report.candidate.sha256.slice(0, 12)}): ` +
      `${report.changed} of ${report.replayed} decisions would change`,
  ];
  for (const group of report.groups) {
    lines.push('', `${kindLabels[group.kind]}  ${group.from} → ${group.to}  ×${group.count}`);
    for (const example of group.examples)
      lines.push(`  ${example.id}${example.tenantId === undefined ? '' : ` (tenant ${example.tenantId})`}: ${example.explanation}`);
  }
  return lines.join('\n');
}
