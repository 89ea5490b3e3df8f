import { ArtifactSignatureError, type ArtifactSignatureProblem } from '@coherence/auth';

/** Why an artifact was refused: its signature's problem, a rollback, or content that does not load. */
export type ArtifactRefusal = ArtifactSignatureProblem | 'ROLLBACK' | 'INVALID_ARTIFACT';

export type ActivationResult =
  { ok: true; version: string; sha256: string; keyId: string } | { ok: false; reason: ArtifactRefusal; error: string };

/** Refused: the error's signature problem, or INVALID_ARTIFACT for anything else (a missing file, a bad manifest, a failing probe). */
export function refusal(error: unknown): ActivationResult & { ok: false } {
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, reason: error instanceof ArtifactSignatureError ? error.problem : 'INVALID_ARTIFACT', error: message };
}

/** Whether dotted-number version `candidate` is lower than `active` (1.10.0 > 1.9.0; a missing part counts as 0). */
export function isOlderVersion(candidate: string, active: string): boolean {
  const a = candidate.split('.').map(Number);
  const b = active.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference < 0;
  }
  return false;
}
