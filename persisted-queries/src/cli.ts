import { artifactKeyId, readArtifactSigningKey } from '@coherence/auth';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { extractOperations, type SourceOperation, type SourceProblem } from './extractOperations';
import type { Manifest, PersistedOperation } from './manifest';
import { readManifest, serializeJson, writeFileAtomically, PUBLISHED_MANIFEST } from './manifestFiles';
import { costsPathFor, readCosts, validateCosts, type CostProblem, type CostTable } from './operationCosts';
import { planManifest, type Change } from './planManifest';
import { loadPqConfig, type PqConfig } from './pqConfig';
import { publishManifest } from './publishManifest';
import { readSignedManifest, signManifest } from './signedManifest';
import { apiSchemaFromSupergraph, validateOperations } from './validateOperations';

/** Exit codes, as documented in the README ("Persisted operations"). */
export const EXIT = { ok: 0, checkFailed: 1, usage: 2 } as const;

const HELP = `pq — register the GraphQL operations the gateway may run

usage: npx pq <command> [options]

commands
  add <files|globs…>   add the operations in these files to the manifest
  update               re-read every configured source; changed operations get a new id,
                       old ids stay until prune; re-signs the manifest with its cost table
  check                CI gate: fail if a source operation is not in the manifest, a
                       manifest entry does not validate against the supergraph, the
                       cost table beside the manifest (costs.json) does not fit it, or
                       their signature (.signatures.json) does not verify
  list                 the manifest's operations
  show <id|name>       one operation's entries and body
  prune [--dry-run]    drop entries that no source produces any more
  publish [--dry-run]  push the manifest and its cost table to the gateways' shared store
                       with a new version, signed

options
  --json               machine-readable output
  --config <file>      default: pq.config.json found upwards from here
  --to <dir>           publish: the shared store (default: publishDir in the config)
  --signing-key <file> the private key (PEM or JWK) that signs (default: signingKey in the
                       config, else the dev key, which production gateways refuse)
  --dry-run            prune, publish: show what would change, change nothing
  -h, --help           this help

exit codes: 0 ok, 1 check failed or invalid operations, 2 usage or configuration error`;

interface Output {
  json: boolean;
  print(human: string, machine: unknown): void;
}

export async function runPq(argv: readonly string[], cwd = process.cwd()): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        config: { type: 'string' },
        to: { type: 'string' },
        'signing-key': { type: 'string' },
        'dry-run': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n\n${HELP}\n`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${HELP}\n`);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const out: Output = {
    json: values.json ?? false,
    print: (human, machine) => process.stdout.write(values.json ? `${JSON.stringify(machine, null, 2)}\n` : `${human}\n`),
  };
  let config: PqConfig;
  try {
    config = loadPqConfig(cwd, values.config);
  } catch (error) {
    process.stderr.write(`pq: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.usage;
  }
  const dryRun = values['dry-run'] ?? false;
  let signingKey: KeyObject;
  try {
    signingKey = readArtifactSigningKey(values['signing-key'] ?? config.signingKey);
  } catch (error) {
    process.stderr.write(`pq: cannot read the signing key: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.usage;
  }
  switch (command) {
    case 'add':
      if (args.length === 0) return usage('add needs files or globs');
      return register(config, out, args, { keepOthers: true, signingKey });
    case 'update':
      return register(config, out, config.sources, { keepOthers: false, signingKey });
    case 'check':
      return check(config, out, signingKey);
    case 'list':
      return list(config, out);
    case 'show':
      if (!args[0]) return usage('show needs an id or a name');
      return show(config, out, args[0]);
    case 'prune':
      return prune(config, out, dryRun, signingKey);
    case 'publish':
      return publish(config, out, values.to ?? config.publishDir, dryRun, signingKey);
    default:
      return usage(`unknown command ${command}`);
  }
}

function usage(message: string): number {
  process.stderr.write(`pq: ${message}\n\n${HELP}\n`);
  return EXIT.usage;
}

const short = (id: string) => id.slice(0, 12);
const where = (problem: SourceProblem) => `${problem.file}:${problem.line}`;

function reportProblems(problems: readonly SourceProblem[]): void {
  for (const problem of problems) process.stderr.write(`${where(problem)}: ${problem.message}\n`);
}

function invalidAgainstSchema(config: PqConfig, operations: readonly PersistedOperation[]) {
  return validateOperations(operations, apiSchemaFromSupergraph(readFileSync(config.supergraph, 'utf8')));
}

/** The cost table beside the manifest and why it does not fit the manifest; a malformed table is one problem. */
function checkCosts(config: PqConfig, manifest: Manifest): { costs: CostTable; problems: CostProblem[] } {
  try {
    const costs = readCosts(costsPathFor(config.manifest));
    return { costs, problems: validateCosts(manifest.operations, costs) };
  } catch (error) {
    return { costs: {}, problems: [{ name: '', message: error instanceof Error ? error.message : String(error) }] };
  }
}

function reportCostProblems(config: PqConfig, problems: readonly CostProblem[]): void {
  const path = relative(config.root, costsPathFor(config.manifest));
  for (const { name, message } of problems) process.stderr.write(`${path}: ${name ? `${name} ` : ''}${message}\n`);
}

async function register(
  config: PqConfig,
  out: Output,
  patterns: readonly string[],
  options: { keepOthers: boolean; signingKey: KeyObject },
): Promise<number> {
  const { operations, problems } = await extractOperations(patterns, process.cwd() === config.root ? config.root : config.root);
  reportProblems(problems);
  const invalid = invalidAgainstSchema(config, operations);
  for (const { operation, message } of invalid) {
    const source = operation as SourceOperation;
    process.stderr.write(`${source.file}:${source.line}: ${operation.name} does not validate against the supergraph: ${message}\n`);
  }
  if (problems.length > 0 || invalid.length > 0) return EXIT.checkFailed;

  const current = readManifest(config.manifest);
  const untouched = options.keepOthers ? current.operations.filter((op) => !operations.some((o) => o.name === op.name)) : [];
  const plan = planManifest(current, [...operations, ...untouched.map((op) => ({ ...op, file: '(manifest)', line: 0 }))]);
  const changes = plan.changes.filter((c) => !(c.kind === 'unchanged' && (c.operation as SourceOperation).file === '(manifest)'));
  writeFileAtomically(config.manifest, serializeJson(plan.manifest));
  await signManifest(config.manifest, options.signingKey);
  out.print(describeChanges(changes, config), { manifest: relative(config.root, config.manifest), changes: changes.map(changeJson) });
  return EXIT.ok;
}

function describeChanges(changes: readonly Change[], config: PqConfig): string {
  // An old id of a changed operation is reported with the change, not again as stale.
  const replaced = new Set(changes.flatMap((c) => (c.kind === 'changed' ? c.previousIds : [])));
  const shown = changes.filter((c) => !(c.kind === 'stale' && replaced.has(c.operation.id)));
  const lines = shown.map((change) => {
    switch (change.kind) {
      case 'added':
        return `+ ${change.operation.name} ${short(change.operation.id)} (${change.operation.file}:${change.operation.line})`;
      case 'changed':
        return `~ ${change.operation.name} ${change.previousIds.map(short).join(', ')} → ${short(change.operation.id)} (old id kept until prune)`;
      case 'unchanged':
        return `= ${change.operation.name} ${short(change.operation.id)}`;
      case 'stale':
        return `- ${change.operation.name} ${short(change.operation.id)} no longer in any source (kept until prune)`;
    }
  });
  const count = (kind: Change['kind']) => changes.filter((c) => c.kind === kind).length;
  lines.push(
    `${relative(config.root, config.manifest)}: ${count('added')} added, ${count('changed')} changed, ${count('unchanged')} unchanged, ${count('stale')} stale`,
  );
  return lines.join('\n');
}

function changeJson(change: Change) {
  const { id, name, type } = change.operation;
  return { kind: change.kind, id, name, type, ...(change.kind === 'changed' ? { previousIds: change.previousIds } : {}) };
}

/** Why the manifest's signature does not verify under the public half of the signing key, or undefined when it does. */
async function signatureProblem(config: PqConfig, signingKey: KeyObject): Promise<string | undefined> {
  try {
    await readSignedManifest(config.manifest, createPublicKey(signingKey));
    return undefined;
  } catch (error) {
    const problem = (error as { problem?: string }).problem ?? 'UNREADABLE';
    return `${problem}: ${error instanceof Error ? error.message : String(error)} (re-sign: npx pq update)`;
  }
}

async function check(config: PqConfig, out: Output, signingKey: KeyObject): Promise<number> {
  const manifest = readManifest(config.manifest);
  const { operations, problems } = await extractOperations(config.sources, config.root);
  const manifestIds = new Set(manifest.operations.map((op) => op.id));
  const missing = operations.filter((op) => !manifestIds.has(op.id));
  const invalid = invalidAgainstSchema(config, manifest.operations);
  const costs = checkCosts(config, manifest).problems;
  reportProblems(problems);
  for (const op of missing) process.stderr.write(`${op.file}:${op.line}: ${op.name} is not in the manifest (register it: npx pq update)\n`);
  for (const { operation, message } of invalid) {
    process.stderr.write(
      `${relative(config.root, config.manifest)}: ${operation.name} ${short(operation.id)} would break against the supergraph: ${message}\n`,
    );
  }
  reportCostProblems(config, costs);
  const signature = await signatureProblem(config, signingKey);
  if (signature) process.stderr.write(`${relative(config.root, config.manifest)}: signature ${signature}\n`);
  const ok = problems.length === 0 && missing.length === 0 && invalid.length === 0 && costs.length === 0 && !signature;
  out.print(
    ok
      ? `pq check: ${operations.length} source operations persisted; ${manifest.operations.length} manifest entries valid against the supergraph, each with a cost; signed by key ${artifactKeyId(signingKey)}`
      : `pq check: FAILED (${missing.length} not persisted, ${invalid.length} invalid, ${problems.length} unreadable, ${costs.length} cost problems, signature ${signature ? 'refused' : 'ok'})`,
    {
      ok,
      missing: missing.map((op) => ({ name: op.name, id: op.id, file: op.file, line: op.line })),
      invalid: invalid.map(({ operation, message }) => ({ name: operation.name, id: operation.id, message })),
      problems,
      costs,
      signature: signature ?? null,
    },
  );
  return ok ? EXIT.ok : EXIT.checkFailed;
}

function list(config: PqConfig, out: Output): number {
  const manifest = readManifest(config.manifest);
  const lines = manifest.operations.map((op) => `${op.name.padEnd(32)} ${op.type.padEnd(12)} ${op.id}`);
  out.print(
    lines.length > 0 ? lines.join('\n') : '(no operations)',
    manifest.operations.map(({ id, name, type }) => ({ id, name, type })),
  );
  return EXIT.ok;
}

function show(config: PqConfig, out: Output, key: string): number {
  const matches = readManifest(config.manifest).operations.filter((op) => op.id === key || op.name === key || op.id.startsWith(key));
  if (matches.length === 0) {
    process.stderr.write(`pq: no operation ${key}\n`);
    return EXIT.checkFailed;
  }
  out.print(matches.map((op) => `# ${op.name} (${op.type}) ${op.id}\n${op.body}`).join('\n\n'), matches);
  return EXIT.ok;
}

async function prune(config: PqConfig, out: Output, dryRun: boolean, signingKey: KeyObject): Promise<number> {
  const { operations, problems } = await extractOperations(config.sources, config.root);
  if (problems.length > 0) {
    reportProblems(problems);
    return EXIT.checkFailed;
  }
  const plan = planManifest(readManifest(config.manifest), operations, { prune: true });
  const removed = plan.changes.filter((c) => c.kind === 'stale');
  if (!dryRun) {
    writeFileAtomically(config.manifest, serializeJson(plan.manifest));
    await signManifest(config.manifest, signingKey);
  }
  out.print(
    [
      ...removed.map((c) => `- ${c.operation.name} ${c.operation.id}`),
      `${dryRun ? 'would remove' : 'removed'} ${removed.length} entries`,
    ].join('\n'),
    { dryRun, removed: removed.map(changeJson) },
  );
  return EXIT.ok;
}

async function publish(config: PqConfig, out: Output, publishDir: string, dryRun: boolean, signingKey: KeyObject): Promise<number> {
  const manifest = readManifest(config.manifest);
  const invalid = invalidAgainstSchema(config, manifest.operations);
  const { costs, problems } = checkCosts(config, manifest);
  if (invalid.length > 0 || problems.length > 0) {
    for (const { operation, message } of invalid) process.stderr.write(`${operation.name} ${short(operation.id)}: ${message}\n`);
    reportCostProblems(config, problems);
    process.stderr.write('pq: refusing to publish a manifest the gateway would reject\n');
    return EXIT.checkFailed;
  }
  const published = readManifest(`${publishDir}/${PUBLISHED_MANIFEST}`);
  const diff = diffIds(published, manifest);
  if (dryRun) {
    out.print(describeDiff(diff, 'would publish'), { dryRun, ...diff });
    return EXIT.ok;
  }
  const publication = await publishManifest(publishDir, manifest, costs, signingKey);
  const keyId = artifactKeyId(signingKey);
  out.print(`${describeDiff(diff, `published version ${publication.version} to ${publishDir}, signed by key ${keyId}`)}`, {
    dryRun,
    ...diff,
    publication,
    keyId,
  });
  return EXIT.ok;
}

function diffIds(before: Manifest, after: Manifest) {
  const beforeIds = new Set(before.operations.map((op) => op.id));
  const afterIds = new Set(after.operations.map((op) => op.id));
  return {
    added: after.operations.filter((op) => !beforeIds.has(op.id)).map(({ id, name }) => ({ id, name })),
    removed: before.operations.filter((op) => !afterIds.has(op.id)).map(({ id, name }) => ({ id, name })),
  };
}

function describeDiff(diff: ReturnType<typeof diffIds>, verb: string): string {
  return [
    ...diff.added.map((op) => `+ ${op.name} ${op.id}`),
    ...diff.removed.map((op) => `- ${op.name} ${op.id}`),
    `${verb}: ${diff.added.length} added, ${diff.removed.length} removed`,
  ].join('\n');
}
