/**
 * The policy bundles: compile the Rego sources to the Wasm bundles that run
 * in-process, check that the committed bundles are what the sources compile
 * to, and judge a candidate bundle against recorded decisions before it ships
 * (docs/runbooks/policy-rollout.md):
 *
 *   policy/src        -> policy/bundle        the gateway's authorization
 *   policy/comms/src  -> policy/comms/bundle  comms' quiet hours
 *
 *   npm run policy:build [-- --signing-key <file>]   rebuild and sign both bundle folders
 *   npm run policy:check [-- --public-key <file>]    rebuild into memory; fail on any difference, a signature
 *                                                    that does not verify, or a golden decision that changed
 *                                                    without an entry in policy/CHANGES.md
 *   npm run policy -- simulate --bundle <dir> ...    replay recorded decisions against a candidate (--help)
 *   npm run policy -- golden                         rewrite policy/test/golden-decisions.json from the matrix
 *
 * `.signatures.json` signs a bundle's three files in OPA's format (scope: the
 * entrypoint), by default with the committed dev key, which production
 * refuses (docs/adr/0012-signed-artifacts.md); it is written last.
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
import { compilePolicyBundle, POLICY_ENTRYPOINT, writeSignedPolicyBundle, type PolicyBundleSource } from '@coherence/policy';
import { ensureOpa, pinnedOpaVersion } from '@coherence/devservices/opa';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { checkGoldenDecisions, simulate, simulateUsage, writeGoldenDecisions } from './policySimulation';

const repoRoot = resolve(import.meta.dirname, '..');

const bundles: PolicyBundleSource[] = [
  { dir: join(repoRoot, 'policy'), source: 'src/authz.rego', entrypoint: POLICY_ENTRYPOINT },
  { dir: commsPolicyDir, source: 'src/quiet_hours.rego', entrypoint: COMMS_POLICY_ENTRYPOINT },
];

const usage = [
  'usage: npm run policy -- build [--signing-key <file>] | check [--public-key <file>] | simulate --bundle <dir> ... | golden',
  '  build     compile and sign every policy bundle (default key: the dev key, refused in production)',
  "  check     fail if a committed bundle differs from its sources or its signature does not verify (default: the dev key's public half),",
  '            or if a golden decision changed without an entry in policy/CHANGES.md',
  '  simulate  replay recorded decisions against a candidate bundle and list what would change (simulate --help)',
  "  golden    rewrite policy/test/golden-decisions.json: the matrix inputs with the committed bundle's answers",
].join('\n');

const command = process.argv[2];
if (command === 'simulate') process.exit(await simulate(process.argv.slice(3)));
if (command === 'golden') process.exit(await writeGoldenDecisions());
if (command !== 'build' && command !== 'check') {
  console.error(`${usage}\n\n${simulateUsage}`);
  process.exit(command === '--help' || command === '-h' ? 0 : 2);
}
const { values } = parseArgs({
  args: process.argv.slice(3),
  options: { 'signing-key': { type: 'string' }, 'public-key': { type: 'string' } },
});

const compiler = { opa: await ensureOpa(), opaVersion: pinnedOpaVersion };

const drifted: string[] = [];
const unverified: string[] = [];
for (const bundle of bundles) {
  const bundleDir = join(bundle.dir, 'bundle');
  if (command === 'build') {
    const signingKey = readArtifactSigningKey(values['signing-key'] ?? devArtifactSigningKeyPath);
    await writeSignedPolicyBundle(bundle, compiler, bundleDir, signingKey);
    console.log(`policy bundle written and signed to ${relative(repoRoot, bundleDir)}`);
    continue;
  }
  const compiled = await compilePolicyBundle(bundle, compiler);
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
if (command === 'check') {
  // The bundle is what the sources compile to: replaying the golden set against it judges the sources.
  if (!(await checkGoldenDecisions(values['public-key']))) process.exit(1);
  console.log('policy bundles are up to date');
}
