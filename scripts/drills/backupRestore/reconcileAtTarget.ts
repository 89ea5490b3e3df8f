/** One HTTP push of one signal, as the drill's load recorded it. */
export interface Push {
  tenantId: string;
  signalId: string;
  /** Date.now() just before the request was sent. */
  startedAt: number;
  /** Date.now() when the answer (or the failure) came back. */
  answeredAt: number;
  /** The HTTP status; 0 when no answer came (connection refused, timeout). */
  status: number;
}

export interface TargetReconciliation {
  /** 202 received before T: each must be in the restored ledger. */
  acknowledgedBeforeTarget: number;
  /** Of those, the ones the restored ledger lacks (ids, at most 20): must be empty. */
  lostIds: string[];
  lost: number;
  /** Sent after T: none may be in the restored ledger, whatever the answer was. */
  startedAfterTarget: number;
  presentAfterTargetIds: string[];
  presentAfterTarget: number;
  /** Sent at or before T, answered at or after it: the commit may fall on either side of T, so either is right. */
  inFlightAtTarget: number;
  inFlightPresent: number;
  /** Answered before T with another status than 202 (nothing stored is expected; reported, not judged). */
  refusedBeforeTarget: number;
  refusedBeforeTargetPresent: number;
  /** Restored ledger rows no push of the drill sent: must be 0. */
  unknownRestored: number;
  /** T minus the last 202 received before it: how close to T the restored ledger reaches by this load's evidence. */
  lastAcknowledgementBeforeTargetMs: number | null;
}

const SAMPLE = 20;

/**
 * Which pushes a cluster restored to `targetMs` must hold, may hold, and must
 * not hold. A 202 is sent after the ledger transaction committed and the
 * transaction began after the request was sent, so its commit time lies
 * between `startedAt` and `answeredAt` (one clock: the drill and Postgres
 * run on one machine). Recovery to T replays every commit before T and none
 * after it (docs/runbooks/backup-restore.md).
 */
export function reconcileAtTarget(pushes: readonly Push[], targetMs: number, restoredIds: ReadonlySet<string>): TargetReconciliation {
  const acknowledgedBefore = pushes.filter((push) => push.status === 202 && push.answeredAt < targetMs);
  const startedAfter = pushes.filter((push) => push.startedAt > targetMs);
  const inFlight = pushes.filter((push) => push.startedAt <= targetMs && push.answeredAt >= targetMs);
  const refusedBefore = pushes.filter((push) => push.status !== 202 && push.answeredAt < targetMs);
  const present = (push: Push) => restoredIds.has(push.signalId);
  const lost = acknowledgedBefore.filter((push) => !present(push));
  const presentAfter = startedAfter.filter(present);
  const pushedIds = new Set(pushes.map((push) => push.signalId));
  return {
    acknowledgedBeforeTarget: acknowledgedBefore.length,
    lostIds: lost.slice(0, SAMPLE).map((push) => push.signalId),
    lost: lost.length,
    startedAfterTarget: startedAfter.length,
    presentAfterTargetIds: presentAfter.slice(0, SAMPLE).map((push) => push.signalId),
    presentAfterTarget: presentAfter.length,
    inFlightAtTarget: inFlight.length,
    inFlightPresent: inFlight.filter(present).length,
    refusedBeforeTarget: refusedBefore.length,
    refusedBeforeTargetPresent: refusedBefore.filter(present).length,
    unknownRestored: [...restoredIds].filter((id) => !pushedIds.has(id)).length,
    lastAcknowledgementBeforeTargetMs:
      acknowledgedBefore.length === 0 ? null : targetMs - acknowledgedBefore.reduce((last, push) => Math.max(last, push.answeredAt), 0),
  };
}
