import { execFile } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { policyBundleFiles, policyBundleSha256, signPolicyBundle, type PolicyBundleManifest } from './loadPolicyBundle';

const run = promisify(execFile);

/** One Rego package compiled to one bundle folder; `dir` holds the source and VERSION. */
export interface PolicyBundleSource {
  dir: string;
  /** Relative to `dir`. */
  source: string;
  entrypoint: string;
}

export interface PolicyCompiler {
  /** The `opa` binary. */
  opa: string;
  /** Its version, written into the manifest. */
  opaVersion: string;
}

/**
 * A bundle's files (policy.wasm, data.json, manifest.json), compiled from its
 * Rego source into memory; unsigned (`signPolicyBundle` signs a folder).
 * `opa build` puts the Wasm and data in a tar.gz; they are kept as they are
 * (byte-reproducible for one OPA version) with our manifest, and the tar
 * itself is dropped (docs/adr/0002-gateway-security.md).
 */
export async function compilePolicyBundle(
  { dir, source, entrypoint }: PolicyBundleSource,
  { opa, opaVersion }: PolicyCompiler,
): Promise<Record<string, Buffer>> {
  const work = mkdtempSync(join(tmpdir(), 'coherence-policy-'));
  try {
    // Relative paths and a fixed cwd: the source path is recorded inside the tar.
    await run(opa, ['build', '-t', 'wasm', '-e', entrypoint, source, '-o', join(work, 'bundle.tar.gz')], { cwd: dir });
    await run('tar', ['-xzf', join(work, 'bundle.tar.gz'), '-C', work, '/policy.wasm', '/data.json']);
    const wasm = readFileSync(join(work, 'policy.wasm'));
    const data = readFileSync(join(work, 'data.json'));
    // The comms manifest has the same shape; only its entrypoint differs.
    const manifest: Omit<PolicyBundleManifest, 'entrypoint'> & { entrypoint: string } = {
      version: readFileSync(join(dir, 'VERSION'), 'utf8').trim(),
      sha256: policyBundleSha256(wasm, data),
      entrypoint,
      opaVersion,
    };
    return {
      [policyBundleFiles.wasm]: wasm,
      [policyBundleFiles.data]: data,
      [policyBundleFiles.manifest]: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Compiles `source` into the bundle folder `into` and signs it there (`.signatures.json` last): `npm run policy:build`, and a test's candidate bundle. */
export async function writeSignedPolicyBundle(
  source: PolicyBundleSource,
  compiler: PolicyCompiler,
  into: string,
  signingKey: KeyObject,
): Promise<void> {
  const files = await compilePolicyBundle(source, compiler);
  mkdirSync(into, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(into, name), content);
  await signPolicyBundle(into, signingKey, source.entrypoint);
}
