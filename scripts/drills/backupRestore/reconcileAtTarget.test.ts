import { describe, expect, it } from 'vitest';
import { reconcileAtTarget, type Push } from './reconcileAtTarget';

const T = 10_000;
const push = (signalId: string, startedAt: number, answeredAt: number, status = 202): Push => ({
  tenantId: 'acme',
  signalId,
  startedAt,
  answeredAt,
  status,
});

describe('reconcileAtTarget', () => {
  const pushes = [
    push('before-1', 9_000, 9_010),
    push('before-2', 9_980, 9_990),
    push('across', 9_995, 10_005),
    push('at-target', 10_000, 10_003),
    push('refused', 9_100, 9_105, 429),
    push('after-1', 10_001, 10_010),
    push('after-unanswered', 10_020, 10_100, 0),
  ];

  it('finds nothing wrong when the restored ledger holds what was acknowledged before T and nothing sent after it', () => {
    const result = reconcileAtTarget(pushes, T, new Set(['before-1', 'before-2', 'across']));
    expect(result).toEqual({
      acknowledgedBeforeTarget: 2,
      lostIds: [],
      lost: 0,
      startedAfterTarget: 2,
      presentAfterTargetIds: [],
      presentAfterTarget: 0,
      inFlightAtTarget: 2,
      inFlightPresent: 1,
      refusedBeforeTarget: 1,
      refusedBeforeTargetPresent: 0,
      unknownRestored: 0,
      lastAcknowledgementBeforeTargetMs: 10,
    });
  });

  it('counts an acknowledged signal the restore lacks as lost, and one sent after T that it holds, whatever its answer', () => {
    const result = reconcileAtTarget(pushes, T, new Set(['before-1', 'after-unanswered', 'stray']));
    expect(result).toMatchObject({ lost: 1, lostIds: ['before-2'], presentAfterTarget: 1, presentAfterTargetIds: ['after-unanswered'] });
    expect(result.unknownRestored).toBe(1);
  });

  it('has no last acknowledgement when nothing was acknowledged before T', () => {
    expect(reconcileAtTarget([push('after-1', 10_001, 10_010)], T, new Set()).lastAcknowledgementBeforeTargetMs).toBeNull();
  });
});
