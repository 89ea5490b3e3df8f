import { readArtifactSignatures, verifyArtifactSignature } from '@coherence/auth';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { createHash, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** policy/comms: the Rego source, its tests, VERSION and the committed bundle (built by scripts/policy.ts). */
export const commsPolicyDir = fileURLToPath(new URL('../../../../policy/comms', import.meta.url));

/** The committed quiet-hours bundle the worker runs by default. */
export const commsPolicyBundleDir = join(commsPolicyDir, 'bundle');

/** The one rule comms asks for: `data.coherence.comms.quiet_hours.decision`. */
export const COMMS_POLICY_ENTRYPOINT = 'coherence/comms/quiet_hours/decision';

const manifestSchema = z.strictObject({
  version: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  entrypoint: z.literal(COMMS_POLICY_ENTRYPOINT),
  opaVersion: z.string().min(1),
});

/** What the Rego entrypoint returns. */
export const quietHoursVerdictSchema = z.strictObject({
  allow: z.boolean(),
  reasonCode: z.enum(['ALLOWED', 'QUIET_HOURS', 'POLICY_ERROR']),
  explanation: z.string(),
  deferMinutes: z.int().min(0).max(1_440),
});
export type QuietHoursVerdict = z.output<typeof quietHoursVerdictSchema>;

/** The policy input; see policy/comms/src/quiet_hours.rego. */
export interface QuietHoursInput {
  localMinute: number;
  quietHours: { startMinute: number; endMinute: number } | null;
}

export interface QuietHoursPolicy {
  version: string;
  sha256: string;
  evaluate(input: QuietHoursInput): QuietHoursVerdict;
}

/**
 * Loads the quiet-hours bundle and verifies it like the gateway verifies its
 * own (signed by `publicKey` in OPA's format with the entrypoint as scope,
 * same manifest shape, sha256 over Wasm then data): an unsigned or wrongly
 * signed bundle, one whose files do not match its manifest, or one that
 * lacks the entrypoint, is refused. The worker loads it once, at start.
 */
export async function loadQuietHoursPolicy(publicKey: KeyObject, dir = commsPolicyBundleDir): Promise<QuietHoursPolicy> {
  const [manifestBytes, wasm, data, signatures] = await Promise.all([
    readFile(join(dir, 'manifest.json')),
    readFile(join(dir, 'policy.wasm')),
    readFile(join(dir, 'data.json')),
    readArtifactSignatures(dir),
  ]);
  await verifyArtifactSignature({
    signatures,
    files: new Map([
      ['manifest.json', manifestBytes],
      ['policy.wasm', wasm],
      ['data.json', data],
    ]),
    publicKey,
    scope: COMMS_POLICY_ENTRYPOINT,
  });
  const manifest = manifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
  const actual = createHash('sha256').update(wasm).update(data).digest('hex');
  if (actual !== manifest.sha256) throw new Error(`quiet-hours bundle sha256 mismatch: manifest ${manifest.sha256}, files ${actual}`);
  const policy = await loadPolicy(wasm);
  policy.setData(JSON.parse(data.toString('utf8')) as object);
  if (!(COMMS_POLICY_ENTRYPOINT in (policy.entrypoints as Record<string, number>)))
    throw new Error(`the Wasm module has no entrypoint ${COMMS_POLICY_ENTRYPOINT}`);
  return {
    version: manifest.version,
    sha256: manifest.sha256,
    evaluate(input) {
      const results = policy.evaluate(input, COMMS_POLICY_ENTRYPOINT) as { result?: unknown }[];
      return quietHoursVerdictSchema.parse(results[0]?.result);
    },
  };
}
