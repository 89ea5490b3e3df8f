/**
 * Generated files that are checked in, and the one way to regenerate them.
 *
 *   tsx scripts/artifacts.ts write [name…]   regenerate (all by default)
 *   tsx scripts/artifacts.ts check [name…]   fail with a diff hint if a checked-in file drifted
 */
import { composeSupergraph } from '@coherence/gateway/compose';
import { expectedScoresPath, renderExpectedScores } from '@coherence/fixtures';
import { supergraphPath } from '@coherence/gateway';
import { readFile, writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';

const artifacts: Record<string, { path: string; generate: () => Promise<string> }> = {
  supergraph: { path: supergraphPath, generate: async () => composeSupergraph() },
  /** Expected scores of the golden tenants (fixtures/src/golden). */
  fixtures: { path: expectedScoresPath, generate: async () => renderExpectedScores() },
};

const usage = `usage: tsx scripts/artifacts.ts <write|check> [${Object.keys(artifacts).join('|')}…]`;
const { positionals, values } = parseArgs({ allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } });
const [mode, ...names] = positionals;
if (values.help || (mode !== 'write' && mode !== 'check')) {
  console.log(usage);
  process.exit(values.help ? 0 : 2);
}
const selected = names.length > 0 ? names : Object.keys(artifacts);
let drifted = 0;
for (const name of selected) {
  const artifact = artifacts[name];
  if (!artifact) {
    console.error(`unknown artifact ${name}\n${usage}`);
    process.exit(2);
  }
  const fresh = await artifact.generate();
  const where = relative(process.cwd(), artifact.path);
  if (mode === 'write') {
    await writeFile(artifact.path, fresh);
    console.log(`wrote ${where}`);
    continue;
  }
  const current = await readFile(artifact.path, 'utf8').catch(() => '');
  if (current === fresh) console.log(`ok ${where}`);
  else {
    drifted += 1;
    console.error(`DRIFT ${where} is not what its sources generate; run: npm run ${name}:write`);
  }
}
process.exit(drifted > 0 ? 1 : 0);
