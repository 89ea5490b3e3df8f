/**
 * Compiles the Rego sources to the Wasm bundles that run in-process, or
 * checks that the committed bundles are what the sources compile to:
 *
 *   policy/src        -> policy/bundle        the gateway's authorization
 *   policy/comms/src  -> policy/comms/bundle  comms' quiet hours
 *
 *   npm run policy:build [-- --signing-key <file>]   rebuild and sign both bundle folders
 *   npm run policy:check [-- --public-key <file>]    rebuild into memory; fail on any difference
 *                                                    or a signature that does not verify
 *
 * `opa build` puts policy.wasm, data.json and a .manifest in a tar.gz; the
 * bundle folder keeps the first two as they are (they are byte-reproducible
 * for one OPA version) plus our manifest.json (version, sha256, entrypoint,
 * OPA version). The tar itself is not committed (docs/adr/0002-gateway-security.md).
 * `.signatures.json` signs the three in OPA's format (scope: the entrypoint),
 * by default with the committed dev key, which production refuses
 * (docs/adr/0012-signed-artifacts.md); it is written last.
 */
import {
  devArtifactPublicKeyPath,
  devArtifactSigningKeyPath,
  readArtifactPublicKey,
  readArtifactSigningKey,
  verifyArtifactSignature,
  SIGNATURES_FILE,
} from '@coherence/auth';
import { COMMS_POLICY_ENTRYPOINT, commsPolicyDir } from '@coherence/comms/quietHours';
import { policyBundleFiles, policyBundleSha256, POLICY_ENTRYPOINT, signPolicyBundle, type PolicyBundleManifest } from '@coherence/policy';
import { ensureOpa, pinnedOpaVersion } from '@coherence/devservices/opa';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, '..');

/** One Rego package compiled to one bundle folder; `dir` holds src/, VERSION and bundle/. */
interface BundleSource {
  dir: string;
  source: string;
  entrypoint: string;
}

const bundles: BundleSource[] = [
  { dir: join(repoRoot, 'policy'), source: 'src/authz.rego', entrypoint: POLICY_ENTRYPOINT },
  { dir: commsPolicyDir, source: 'src/quiet_hours.rego', entrypoint: COMMS_POLICY_ENTRYPOINT },
];

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { 'signing-key': { type: 'string' }, 'public-key': { type: 'string' } },
});
const command = positionals[0];
if (command !== 'build' && command !== 'check') {
  console.error(
    [
      'usage: tsx scripts/policy.ts build [--signing-key <file>] | check [--public-key <file>]',
      '  build  compile and sign every policy bundle (default key: the dev key, refused in production)',
      "  check  fail if a committed bundle differs from its sources or its signature does not verify (default: the dev key's public half)",
    ].join('\n'),
  );
  process.exit(command === '--help' || command === '-h' ? 0 : 2);
}

/** A bundle's files, compiled from its Rego source into memory. */
async function compile({ dir: policyDir, source, entrypoint }: BundleSource): Promise<Record<string, Buffer>> {
  const opa = await ensureOpa();
  const work = mkdtempSync(join(tmpdir(), 'coherence-policy-'));
  try {
    // Relative paths and a fixed cwd: the source path is recorded inside the tar.
    await run(opa, ['build', '-t', 'wasm', '-e', entrypoint, source, '-o', join(work, 'bundle.tar.gz')], {
      cwd: policyDir,
    });
    await run('tar', ['-xzf', join(work, 'bundle.tar.gz'), '-C', work, '/policy.wasm', '/data.json']);
    const wasm = readFileSync(join(work, 'policy.wasm'));
    const data = readFileSync(join(work, 'data.json'));
    // The comms manifest has the same shape; only its entrypoint differs.
    const manifest: Omit<PolicyBundleManifest, 'entrypoint'> & { entrypoint: string } = {
      version: readFileSync(join(policyDir, 'VERSION'), 'utf8').trim(),
      sha256: policyBundleSha256(wasm, data),
      entrypoint,
      opaVersion: pinnedOpaVersion,
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

const drifted: string[] = [];
const unverified: string[] = [];
for (const bundle of bundles) {
  const compiled = await compile(bundle);
  const bundleDir = join(bundle.dir, 'bundle');
  if (command === 'build') {
    mkdirSync(bundleDir, { recursive: true });
    for (const [name, content] of Object.entries(compiled)) writeFileSync(join(bundleDir, name), content);
    await signPolicyBundle(bundleDir, readArtifactSigningKey(values['signing-key'] ?? devArtifactSigningKeyPath), bundle.entrypoint);
    console.log(`policy bundle written and signed to ${relative(repoRoot, bundleDir)}`);
    continue;
  }
  try {
    await verifyArtifactSignature({
      signatures: existsSync(join(bundleDir, SIGNATURES_FILE)) ? readFileSync(join(bundleDir, SIGNATURES_FILE), 'utf8') : undefined,
      files: new Map(Object.entries(compiled)),
      publicKey: readArtifactPublicKey(values['public-key'] ?? devArtifactPublicKeyPath),
      scope: bundle.entrypoint,
    });
  } catch (error) {
    unverified.push(`${relative(repoRoot, bundleDir)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  for (const [name, content] of Object.entries(compiled)) {
    const same = (() => {
      try {
        return readFileSync(join(bundleDir, name)).equals(content);
      } catch {
        return false;
      }
    })();
    if (!same) drifted.push(relative(repoRoot, join(bundleDir, name)));
  }
}
if (drifted.length > 0) console.error(`policy bundle drift in ${drifted.join(', ')}: run npm run policy:build`);
for (const problem of unverified) console.error(`policy bundle signature refused: ${problem} (run npm run policy:build)`);
if (drifted.length > 0 || unverified.length > 0) process.exit(1);
if (command === 'check') console.log('policy bundles are up to date');
