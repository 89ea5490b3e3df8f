import { devArtifactSigningKeyPath, readArtifactSigningKey, signArtifact } from '@coherence/auth';
import { ensureOpa } from '@coherence/devservices/opa';
import { execFile } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY_ENTRYPOINT, policyBundleDir, policyBundleFiles } from './loadPolicyBundle';

/**
 * Our `.signatures.json` is OPA's, checked with the real `opa`: OPA verifies
 * a signature we make, and `opa sign` hashes the committed bundle's files as
 * we do. (`opa` names a folder bundle's files with the folder as given on its
 * command line, so the bundle sits in `bundle/` here and the names carry that
 * prefix; ours are relative to the folder.)
 */
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'opa-signature-'));
const signingKey = readArtifactSigningKey(devArtifactSigningKeyPath);
const signedNames = [policyBundleFiles.data, policyBundleFiles.manifest, policyBundleFiles.wasm];
let opa: string;

interface SignedFile {
  name: string;
  hash: string;
  algorithm: string;
}
const signedFiles = (signaturesPath: string): SignedFile[] => {
  const [jws] = (JSON.parse(readFileSync(signaturesPath, 'utf8')) as { signatures: string[] }).signatures;
  return (JSON.parse(Buffer.from(jws!.split('.')[1]!, 'base64url').toString('utf8')) as { files: SignedFile[] }).files;
};

beforeAll(async () => {
  opa = await ensureOpa();
  writeFileSync(join(work, 'signing.pem'), signingKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(work, 'verification.pem'), createPublicKey(signingKey).export({ type: 'spki', format: 'pem' }));
  for (const name of signedNames) cpSync(join(policyBundleDir, name), join(work, 'bundle', name));
}, 900_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("OPA's bundle signing format", () => {
  it('opa verifies a bundle signed by signArtifact, and refuses it for another scope', async () => {
    const files = new Map(signedNames.map((name) => [`bundle/${name}`, readFileSync(join(work, 'bundle', name))]));
    writeFileSync(join(work, 'bundle', policyBundleFiles.signatures), await signArtifact(files, signingKey, POLICY_ENTRYPOINT));
    const verify = (scope: string) =>
      run(opa, ['build', '-b', 'bundle', '--verification-key', 'verification.pem', '--scope', scope, '-o', 'verified.tar.gz'], {
        cwd: work,
      });
    await expect(verify(POLICY_ENTRYPOINT)).resolves.toBeDefined();
    await expect(verify('persisted-operations')).rejects.toMatchObject({ stdout: expect.stringContaining('scope mismatch') });
    rmSync(join(work, 'bundle', policyBundleFiles.signatures));
  });

  it('opa sign lists and hashes the committed bundle exactly as its committed .signatures.json does', async () => {
    await run(opa, ['sign', '-b', 'bundle', '--signing-key', 'signing.pem', '-o', work], { cwd: work });
    const fromOpa = signedFiles(join(work, policyBundleFiles.signatures)).map((file) => ({
      ...file,
      name: file.name.replace(/^bundle\//, ''),
    }));
    expect(fromOpa).toEqual(signedFiles(join(policyBundleDir, policyBundleFiles.signatures)));
  });
});
