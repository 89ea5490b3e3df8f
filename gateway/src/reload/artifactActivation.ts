import type { ActivationResult } from '@coherence/policy';
import type { SecurityEventWriter } from '@coherence/platform';
import { randomUUID } from 'node:crypto';
import type { SecurityMetrics } from '../createSecurityMetrics';

/** The artifacts the gateway activates from disk. */
export type ArtifactName = 'policy' | 'manifest';

export interface ArtifactActivationRecorderOptions {
  events: Pick<SecurityEventWriter, 'record'>;
  metrics: SecurityMetrics;
}

/**
 * Records every activation and refusal of an artifact, at start and on
 * reload: an ARTIFACT_ACTIVATED or ARTIFACT_REFUSED security event (tenant
 * `-`: no tenant did this) and `gateway_artifact_activations_total`.
 */
export function createArtifactActivationRecorder({ events, metrics }: ArtifactActivationRecorderOptions) {
  return (artifact: ArtifactName, source: string, result: ActivationResult): void => {
    metrics.artifactActivations.inc({ artifact, outcome: result.ok ? 'activated' : 'refused', reason: result.ok ? 'none' : result.reason });
    events.record({
      kind: result.ok ? 'ARTIFACT_ACTIVATED' : 'ARTIFACT_REFUSED',
      tenantId: '-',
      service: 'gateway',
      reason: result.ok ? 'ACTIVATED' : result.reason,
      correlationId: randomUUID(),
      details: result.ok
        ? { artifact, source, version: result.version, sha256: result.sha256, keyId: result.keyId }
        : { artifact, source, error: result.error },
    });
  };
}
