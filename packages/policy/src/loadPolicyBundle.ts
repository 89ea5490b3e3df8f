import { readArtifactSignatures, SIGNATURES_FILE, signArtifact, verifyArtifactSignature } from '@coherence/auth';
import { policyReasonCodeSchema, sha256HexSchema } from '@coherence/contracts';
import { loadPolicy } from '@open-policy-agent/opa-wasm';
import { createHash, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';

/** The committed bundle the gateway and ingest run by default; `npm run policy:check` keeps it in step with the Rego. */
export const policyBundleDir = fileURLToPath(new URL('../../../policy/bundle', import.meta.url));

/** The one rule the gateway and ingest ask for: `data.coherence.authz.decision`. */
export const POLICY_ENTRYPOINT = 'coherence/authz/decision';

/** The files a bundle is made of; `.signatures.json` signs the other three and is written last. */
export const policyBundleFiles = {
  wasm: 'policy.wasm',
  data: 'data.json',
  manifest: 'manifest.json',
  signatures: SIGNATURES_FILE,
} as const;

/** Distinct inputs a bundle remembers its decision for: one per caller, operation and tenants in use (under 1 KB each)… */
const DECISION_MEMO_ENTRIES = 10_000;
/**
 * …and at most this many characters of them in all: an input's size follows its request's variables (a list of
 * tenant ids), so a caller sending large distinct inputs evicts older ones instead of growing the memory.
 */
const DECISION_MEMO_CHARACTERS = 4_000_000;

/** Dotted numbers (1.2.0): an activation compares them to refuse a rollback. */
export const artifactVersionSchema = z.string().regex(/^\d+(\.\d+)*$/, { error: 'a version of dotted numbers, such as 1.2.0' });

export const policyBundleManifestSchema = z.strictObject({
  /** Bumped by hand in policy/VERSION when the rules change meaning; a lower one than the active bundle's is a rollback. */
  version: artifactVersionSchema,
  /** See {@link policyBundleSha256}. */
  sha256: sha256HexSchema,
  entrypoint: z.literal(POLICY_ENTRYPOINT),
  /** The `opa` that compiled the Wasm. */
  opaVersion: z.string().min(1),
});
export type PolicyBundleManifest = z.output<typeof policyBundleManifestSchema>;

/** What the Rego entrypoint returns. */
export const rawDecisionSchema = z.strictObject({
  allow: z.boolean(),
  reasonCode: policyReasonCodeSchema,
  explanation: z.string(),
});
export type RawDecision = z.output<typeof rawDecisionSchema>;

/** A bundle's identity: sha256 over the Wasm module followed by the data document, the two things that decide. */
export function policyBundleSha256(wasm: Uint8Array, data: Uint8Array): string {
  return createHash('sha256').update(wasm).update(data).digest('hex');
}

export interface PolicyBundle {
  version: string;
  sha256: string;
  /** The id of the key that signed it. */
  keyId: string;
  /** Evaluates the entrypoint; throws when the module fails or answers something that is not a decision. */
  evaluate(input: unknown): RawDecision;
}

/**
 * Signs a bundle folder's files into its `.signatures.json`, written after
 * them (gateways reload when it changes). `scope` is the bundle's entrypoint.
 */
export async function signPolicyBundle(dir: string, signingKey: KeyObject, scope: string = POLICY_ENTRYPOINT): Promise<void> {
  const names = [policyBundleFiles.manifest, policyBundleFiles.wasm, policyBundleFiles.data];
  const files = new Map(await Promise.all(names.map(async (name) => [name, await readFile(join(dir, name))] as const)));
  await writeFile(join(dir, policyBundleFiles.signatures), await signArtifact(files, signingKey, scope));
}

/**
 * Loads and verifies a bundle folder: `.signatures.json` must sign exactly
 * its three files under `publicKey` (OPA's format, scope = the entrypoint;
 * an ArtifactSignatureError otherwise), the manifest must parse, its sha256
 * must match the files, the Wasm must expose the entrypoint, and a probe
 * with an empty input must be denied (a policy that allows nonsense is not
 * activated). Every check is on the bytes read once, the ones then run.
 * Throws, naming the problem, on any failure.
 */
export async function loadPolicyBundle(dir: string, publicKey: KeyObject): Promise<PolicyBundle> {
  const [manifestBytes, wasm, data, signatures] = await Promise.all([
    readFile(join(dir, policyBundleFiles.manifest)),
    readFile(join(dir, policyBundleFiles.wasm)),
    readFile(join(dir, policyBundleFiles.data)),
    readArtifactSignatures(dir),
  ]);
  const { keyId } = await verifyArtifactSignature({
    signatures,
    files: new Map([
      [policyBundleFiles.manifest, manifestBytes],
      [policyBundleFiles.wasm, wasm],
      [policyBundleFiles.data, data],
    ]),
    publicKey,
    scope: POLICY_ENTRYPOINT,
  });
  const manifest = policyBundleManifestSchema.parse(JSON.parse(manifestBytes.toString('utf8')));
  const actual = policyBundleSha256(wasm, data);
  if (actual !== manifest.sha256) throw new Error(`bundle sha256 mismatch: manifest says ${manifest.sha256}, files hash to ${actual}`);

  const policy = await loadPolicy(wasm);
  policy.setData(JSON.parse(data.toString('utf8')) as object);
  const entrypoints = policy.entrypoints as Record<string, number>;
  if (!(POLICY_ENTRYPOINT in entrypoints)) throw new Error(`the Wasm module has no entrypoint ${POLICY_ENTRYPOINT}`);

  // A decision is a function of the input alone: the module and its data are fixed for this bundle, and the Rego reads
  // no clock, network or randomness. So one bundle answers the same input (as OPA receives it: its JSON text) the same,
  // and a repeat is answered from memory instead of the Wasm (docs/adr/0036-remembered-decisions-and-batched-limiter.md).
  const decisions = new LRUCache<string, RawDecision>({
    max: DECISION_MEMO_ENTRIES,
    maxSize: DECISION_MEMO_CHARACTERS,
    sizeCalculation: (_decision, key) => key.length,
  });
  const evaluate = (input: unknown): RawDecision => {
    // `undefined` (no input at all) has no JSON text; its key is one no JSON text can be.
    const key = JSON.stringify(input) ?? 'undefined';
    const known = decisions.get(key);
    if (known) return known;
    const results = policy.evaluate(input, POLICY_ENTRYPOINT) as { result?: unknown }[];
    const decision = Object.freeze(rawDecisionSchema.parse(results[0]?.result));
    decisions.set(key, decision);
    return decision;
  };
  const probe = evaluate({});
  if (probe.allow) throw new Error('the bundle allows an empty input; refusing to activate it');
  return { version: manifest.version, sha256: manifest.sha256, keyId, evaluate };
}
