/**
 * Generated files that are checked in, and the one way to regenerate them.
 *
 *   tsx scripts/artifacts.ts write [name…]   regenerate (all by default)
 *   tsx scripts/artifacts.ts check [name…]   fail with a diff hint if a checked-in file drifted
 */
import { jsonSchemasDir, renderJsonSchemas } from '@coherence/contracts';
import { composeSupergraph } from '@coherence/gateway/compose';
import { expectedScoresPath, renderExpectedScores } from '@coherence/fixtures';
import { supergraphPath } from '@coherence/gateway';
import { readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

/** Each artifact generates one or more files: path → content. */
const artifacts: Record<string, () => Promise<Record<string, string>>> = {
  supergraph: async () => ({ [supergraphPath]: await composeSupergraph() }),
  /** Expected scores of the golden tenants (fixtures/src/golden). */
  fixtures: async () => ({ [expectedScoresPath]: await renderExpectedScores() }),
  /** JSON Schemas of the producer and consumer contracts (packages/contracts/json-schema). */
  schemas: async () => Object.fromEntries(Object.entries(renderJsonSchemas()).map(([file, text]) => [join(jsonSchemasDir, file), text])),
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
  const generate = artifacts[name];
  if (!generate) {
    console.error(`unknown artifact ${name}\n${usage}`);
    process.exit(2);
  }
  for (const [path, fresh] of Object.entries(await generate())) {
    const where = relative(process.cwd(), path);
    if (mode === 'write') {
      await writeFile(path, fresh);
      console.log(`wrote ${where}`);
      continue;
    }
    const current = await readFile(path, 'utf8').catch(() => '');
    if (current === fresh) console.log(`ok ${where}`);
    else {
      drifted += 1;
      console.error(`DRIFT ${where} is not what its sources generate; run: npx tsx scripts/artifacts.ts write ${name}`);
    }
  }
}
process.exit(drifted > 0 ? 1 : 0);
