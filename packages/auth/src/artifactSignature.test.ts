import { generateKeyPairSync } from 'node:crypto';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  allowRollbackField,
  artifactPublicKeyField,
  artifactTrustCheck,
  devArtifactPublicKeyPath,
  devArtifactSigningKeyPath,
} from './artifactKeys';
import {
  artifactFileHash,
  artifactKeyId,
  readArtifactPublicKey,
  readArtifactSigningKey,
  signArtifact,
  verifyArtifactSignature,
  type ArtifactSignatureProblem,
} from './artifactSignature';

const signingKey = readArtifactSigningKey(devArtifactSigningKeyPath);
const publicKey = readArtifactPublicKey(devArtifactPublicKeyPath);
const files = new Map<string, Uint8Array>([
  ['policy.wasm', Buffer.from([0, 97, 115, 109, 1])],
  ['data.json', Buffer.from('{"b": 1, "a": [true, null, "x"]}')],
]);
const scope = 'coherence/authz/decision';

async function problemOf(promise: Promise<unknown>): Promise<ArtifactSignatureProblem | 'verified'> {
  try {
    await promise;
    return 'verified';
  } catch (error) {
    return (error as { problem: ArtifactSignatureProblem }).problem;
  }
}

const payloadOf = (signatures: string) =>
  JSON.parse(
    Buffer.from((JSON.parse(signatures) as { signatures: string[] }).signatures[0]!.split('.')[1]!, 'base64url').toString('utf8'),
  ) as unknown;

describe('signArtifact / verifyArtifactSignature (OPA bundle signing format)', () => {
  it('writes one JWS over {files: [{name, hash, algorithm}], keyid, scope}, the same text each time with an RSA key', async () => {
    const signatures = await signArtifact(files, signingKey, scope);
    expect(await signArtifact(files, signingKey, scope)).toBe(signatures);
    expect(payloadOf(signatures)).toEqual({
      files: [
        { name: 'data.json', hash: artifactFileHash('data.json', files.get('data.json')!), algorithm: 'SHA-256' },
        { name: 'policy.wasm', hash: createHash('sha256').update(files.get('policy.wasm')!).digest('hex'), algorithm: 'SHA-256' },
      ],
      keyid: artifactKeyId(publicKey),
      scope,
    });
    await expect(verifyArtifactSignature({ signatures, files, publicKey, scope })).resolves.toEqual({ keyId: artifactKeyId(publicKey) });
  });

  it('hashes a data document as OPA does (keys sorted, whitespace ignored) and any other file as its bytes', () => {
    const hash = (name: string, text: string) => artifactFileHash(name, Buffer.from(text));
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    expect(hash('data.json', '{"b": 1, "a": [true, null, "x"]}')).toBe(sha256('{"a":[true,null,"x"],"b":1}'));
    expect(hash('data.json', '{"a":[true,null,"x"],"b":2}')).not.toBe(hash('data.json', '{"a":[true,null,"x"],"b":1}'));
    expect(hash('manifest.json', '{"b": 1, "a": 2}')).toBe(sha256('{"b": 1, "a": 2}'));
  });

  it.each<[string, (signatures: string) => Parameters<typeof verifyArtifactSignature>[0], ArtifactSignatureProblem]>([
    ['no .signatures.json', () => ({ signatures: undefined, files, publicKey, scope }), 'UNSIGNED'],
    ['a signatures file that is not one JWS', () => ({ signatures: '{"signatures":[]}', files, publicKey, scope }), 'SIGNATURE_MALFORMED'],
    [
      'a changed file',
      (signatures) => ({ signatures, files: new Map([...files, ['policy.wasm', Buffer.from('evil')]]), publicKey, scope }),
      'HASH_MISMATCH',
    ],
    [
      'a JSON file that no longer parses',
      (signatures) => ({ signatures, files: new Map([...files, ['data.json', Buffer.from('{')]]), publicKey, scope }),
      'HASH_MISMATCH',
    ],
    [
      'a file the signature does not list',
      (signatures) => ({ signatures, files: new Map([...files, ['extra.json', Buffer.from('{}')]]), publicKey, scope }),
      'FILES_MISMATCH',
    ],
    [
      'a signed file that is missing',
      (signatures) => ({ signatures, files: new Map([...files].slice(1)), publicKey, scope }),
      'FILES_MISMATCH',
    ],
    ['another scope', (signatures) => ({ signatures, files, publicKey, scope: 'persisted-operations' }), 'SCOPE_MISMATCH'],
    [
      'a payload swapped under the signature',
      (signatures) => {
        const [header, , signature] = (JSON.parse(signatures) as { signatures: string[] }).signatures[0]!.split('.');
        const forged = Buffer.from(JSON.stringify({ files: [], scope })).toString('base64url');
        return { signatures: JSON.stringify({ signatures: [`${header}.${forged}.${signature}`] }), files, publicKey, scope };
      },
      'SIGNATURE_INVALID',
    ],
  ])('refuses %s', async (_name, options, problem) => {
    const signatures = await signArtifact(files, signingKey, scope);
    expect(await problemOf(verifyArtifactSignature(options(signatures)))).toBe(problem);
  });

  it('refuses a signature by another key, naming both key ids; an ES256 key signs and verifies too', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signatures = await signArtifact(files, other.privateKey, scope);
    await expect(verifyArtifactSignature({ signatures, files, publicKey, scope })).rejects.toThrow(
      `signed by key ${artifactKeyId(other.publicKey)}, the pinned key is ${artifactKeyId(publicKey)}`,
    );
    await expect(verifyArtifactSignature({ signatures, files, publicKey: other.publicKey, scope })).resolves.toBeDefined();
  });
});

describe('artifact keys in config', () => {
  const schema = z
    .object({ NODE_ENV: z.string().optional(), POLICY_KEY: artifactPublicKeyField(), ALLOW_ROLLBACK: allowRollbackField() })
    .superRefine(artifactTrustCheck(['POLICY_KEY']));
  const problems = (config: Record<string, string>) =>
    (schema.safeParse(config).error?.issues ?? []).map((issue) => `${issue.path.join('.')}: ${issue.message}`);

  it('pins the dev key by default, outside production, with rollback refused', () => {
    const config = schema.parse({});
    expect(config.POLICY_KEY).toMatchObject({ path: devArtifactPublicKeyPath, keyId: artifactKeyId(publicKey) });
    expect(config.ALLOW_ROLLBACK).toBe(false);
    expect(schema.parse({ ALLOW_ROLLBACK: 'true' }).ALLOW_ROLLBACK).toBe(true);
  });

  it('refuses the dev key in production, and a key file it cannot read', () => {
    expect(problems({ NODE_ENV: 'production' })).toEqual(['POLICY_KEY: the dev artifact key is refused when NODE_ENV=production']);
    expect(problems({ POLICY_KEY: '/no/such/key.pem' })).toEqual([expect.stringMatching(/^POLICY_KEY: cannot read a public key from/)]);
  });
});
