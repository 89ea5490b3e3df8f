import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';

/**
 * Signed artifacts (policy bundles, persisted-operation manifests) in OPA's
 * bundle signing format: a `.signatures.json` beside the files, holding one
 * JWS whose payload lists every file with its SHA-256. See
 * docs/adr/0012-signed-artifacts.md.
 */
export const SIGNATURES_FILE = '.signatures.json';

/** Why an artifact's signature is refused; the machine-readable reason of the ARTIFACT_REFUSED event. */
export type ArtifactSignatureProblem =
  /** No `.signatures.json`. */
  | 'UNSIGNED'
  /** Not one JWS, or a payload not in OPA's shape. */
  | 'SIGNATURE_MALFORMED'
  /** The JWS does not verify under the pinned key (signed by another key, or altered). */
  | 'SIGNATURE_INVALID'
  /** Signed for another artifact (the payload's `scope`). */
  | 'SCOPE_MISMATCH'
  /** The signed file list is not the artifact's files. */
  | 'FILES_MISMATCH'
  /** A file's content is not what was signed. */
  | 'HASH_MISMATCH';

export class ArtifactSignatureError extends Error {
  constructor(
    readonly problem: ArtifactSignatureProblem,
    message: string,
  ) {
    super(message);
    this.name = 'ArtifactSignatureError';
  }
}

/** A folder's `.signatures.json` text; undefined when there is none (then verification says UNSIGNED). */
export async function readArtifactSignatures(dir: string): Promise<string | undefined> {
  try {
    return await readFile(join(dir, SIGNATURES_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

const signaturesSchema = z.strictObject({ signatures: z.array(z.string()).length(1) });
const payloadSchema = z.object({
  files: z.array(z.strictObject({ name: z.string().min(1), hash: z.string().regex(/^[0-9a-f]{64}$/), algorithm: z.literal('SHA-256') })),
  keyid: z.string().optional(),
  scope: z.string().optional(),
});

/**
 * A file's hash as OPA computes it (`IsStructuredDoc` in OPA's bundle
 * package): a data document (`data.json`) is parsed and re-serialised with
 * every object's keys sorted, so whitespace and key order do not matter;
 * every other file, our manifests included, is hashed as its bytes.
 */
export function artifactFileHash(name: string, content: Uint8Array): string {
  const hash = createHash('sha256');
  if (basename(name) === 'data.json') hash.update(canonicalJson(JSON.parse(Buffer.from(content).toString('utf8'))));
  else hash.update(content);
  return hash.digest('hex');
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** RS256 for an RSA key (deterministic: a rebuild re-signs to the same bytes), ES256 for a P-256 key. */
function algorithmOf(key: KeyObject): 'RS256' | 'ES256' {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw new Error(`unsupported artifact key type ${key.asymmetricKeyType ?? 'unknown'}: use an RSA or a P-256 key`);
}

/** A key file: PEM, or a JWK as JSON. */
function readKeyFile(path: string, kind: 'public' | 'private'): KeyObject {
  const text = readFileSync(path, 'utf8');
  const input = text.trimStart().startsWith('-----BEGIN') ? { key: text } : { key: JSON.parse(text) as JsonWebKey, format: 'jwk' as const };
  const key = kind === 'public' ? createPublicKey(input) : createPrivateKey(input);
  algorithmOf(key);
  return key;
}

export function readArtifactPublicKey(path: string): KeyObject {
  return readKeyFile(path, 'public');
}

export function readArtifactSigningKey(path: string): KeyObject {
  return readKeyFile(path, 'private');
}

/** The key id written in signatures: sha256 over the public key (SPKI DER), shortened. */
export function artifactKeyId(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

/**
 * The `.signatures.json` text for these files: one JWS (header `alg`, `kid`)
 * over `{files: [{name, hash, algorithm}], keyid, scope}`, files in name order
 * and no time claim, so signing the same files again gives the same text with
 * an RSA key.
 */
export async function signArtifact(files: ReadonlyMap<string, Uint8Array>, signingKey: KeyObject, scope: string): Promise<string> {
  const keyid = artifactKeyId(signingKey);
  const payload = {
    files: [...files.keys()].sort().map((name) => ({ name, hash: artifactFileHash(name, files.get(name)!), algorithm: 'SHA-256' })),
    keyid,
    scope,
  };
  const jws = await new CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader({ alg: algorithmOf(signingKey), typ: 'JWT', kid: keyid })
    .sign(signingKey);
  return `${JSON.stringify({ signatures: [jws] }, null, 2)}\n`;
}

export interface VerifyArtifactOptions {
  /** The `.signatures.json` text; undefined when there is none. */
  signatures: string | undefined;
  /** Every file of the artifact by name, exactly as read: the ones the caller then uses. */
  files: ReadonlyMap<string, Uint8Array>;
  publicKey: KeyObject;
  scope: string;
}

/**
 * Verifies like OPA: the JWS under the pinned key, the same set of files
 * signed as given, each file's hash, and the scope. Throws an
 * {@link ArtifactSignatureError} naming the first problem.
 */
export async function verifyArtifactSignature(options: VerifyArtifactOptions): Promise<{ keyId: string }> {
  const fail = (problem: ArtifactSignatureProblem, message: string): never => {
    throw new ArtifactSignatureError(problem, message);
  };
  if (options.signatures === undefined) return fail('UNSIGNED', `no ${SIGNATURES_FILE}: the artifact is not signed`);
  const parsed = (() => {
    try {
      return signaturesSchema.parse(JSON.parse(options.signatures));
    } catch {
      return fail('SIGNATURE_MALFORMED', `${SIGNATURES_FILE} is not {"signatures": ["<one JWS>"]}`);
    }
  })();
  const pinnedKeyId = artifactKeyId(options.publicKey);
  const verified = await compactVerify(parsed.signatures[0]!, options.publicKey, { algorithms: [algorithmOf(options.publicKey)] }).catch(
    (error: unknown) => {
      // Only to name the signer in the message: the header is not trusted for anything.
      const kid = (() => {
        try {
          return decodeProtectedHeader(parsed.signatures[0]!).kid;
        } catch {
          return undefined;
        }
      })();
      const signer = typeof kid === 'string' && kid !== pinnedKeyId ? ` (signed by key ${kid}, the pinned key is ${pinnedKeyId})` : '';
      return fail('SIGNATURE_INVALID', `the signature does not verify under the pinned key${signer}: ${(error as Error).message}`);
    },
  );
  const payload = (() => {
    try {
      return payloadSchema.parse(JSON.parse(Buffer.from(verified.payload).toString('utf8')));
    } catch {
      return fail('SIGNATURE_MALFORMED', 'the signed payload is not {files: [{name, hash, algorithm: "SHA-256"}], keyid, scope}');
    }
  })();
  if (payload.scope !== options.scope) fail('SCOPE_MISMATCH', `signed for scope ${payload.scope ?? '(none)'}, expected ${options.scope}`);
  const signed = payload.files.map((file) => file.name).sort();
  const present = [...options.files.keys()].sort();
  if (signed.length !== new Set(signed).size || signed.join('\n') !== present.join('\n'))
    fail('FILES_MISMATCH', `signed files [${signed.join(', ')}] are not the artifact's files [${present.join(', ')}]`);
  for (const file of payload.files) {
    const actual = (() => {
      try {
        return artifactFileHash(file.name, options.files.get(file.name)!);
      } catch {
        return fail('HASH_MISMATCH', `${file.name} is not JSON, so not the data document that was signed`);
      }
    })();
    if (actual !== file.hash) fail('HASH_MISMATCH', `${file.name} hashes to ${actual}, signed as ${file.hash}`);
  }
  return { keyId: pinnedKeyId };
}
