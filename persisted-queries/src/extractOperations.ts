import { gqlPluckFromCodeStringSync } from '@graphql-tools/graphql-tag-pluck';
import { Kind, parse, visit, type DefinitionNode, type DocumentNode, type FragmentDefinitionNode } from 'graphql';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { glob } from 'tinyglobby';
import type { PersistedOperation } from './manifest';
import { normalizeOperation } from './normalizeOperation';

/** An operation found in a source file, with where it is (for error messages). */
export interface SourceOperation extends PersistedOperation {
  file: string;
  line: number;
}

/** A source that could not be read as operations; reported as `file:line: message`. */
export interface SourceProblem {
  file: string;
  line: number;
  message: string;
}

interface Snippet {
  file: string;
  line: number;
  text: string;
}

const CODE_EXTENSIONS = /\.(?:[cm]?[jt]sx?)$/;

/** `.graphql`/`.gql` files whole; `gql`/`graphql` tagged templates in JS and TS. */
async function readSnippets(file: string, root: string): Promise<Snippet[]> {
  const code = await readFile(file, 'utf8');
  const shown = relative(root, file);
  if (!CODE_EXTENSIONS.test(file)) return [{ file: shown, line: 1, text: code }];
  return gqlPluckFromCodeStringSync(file, code, { skipIndent: true }).map((source) => ({
    file: shown,
    line: source.locationOffset.line,
    text: source.body,
  }));
}

/**
 * Finds every operation in the files matching `patterns` (relative to
 * `root`). Fragments may live in any scanned file and are attached to the
 * operations that spread them. Names must be unique.
 */
export async function extractOperations(
  patterns: readonly string[],
  root: string,
): Promise<{ operations: SourceOperation[]; problems: SourceProblem[] }> {
  const files = (await glob([...patterns], { cwd: root, absolute: true, ignore: ['**/node_modules/**'] })).sort();
  const problems: SourceProblem[] = [];
  const parsed: { snippet: Snippet; document: DocumentNode }[] = [];
  for (const file of files) {
    for (const snippet of await readSnippets(file, root)) {
      try {
        parsed.push({ snippet, document: parse(snippet.text) });
      } catch (error) {
        const line = snippet.line + ((error as { locations?: { line: number }[] }).locations?.[0]?.line ?? 1) - 1;
        problems.push({ file: snippet.file, line, message: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const { document } of parsed) {
    for (const definition of document.definitions)
      if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }

  const operations: SourceOperation[] = [];
  const seen = new Map<string, SourceOperation>();
  for (const { snippet, document } of parsed) {
    for (const definition of document.definitions) {
      if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
      const line = snippet.line + (definition.loc?.startToken.line ?? 1) - 1;
      if (!definition.name) {
        problems.push({ file: snippet.file, line, message: 'an operation needs a name to be persisted' });
        continue;
      }
      const name = definition.name.value;
      const first = seen.get(name);
      if (first) {
        problems.push({ file: snippet.file, line, message: `operation ${name} is also defined at ${first.file}:${first.line}` });
        continue;
      }
      const operation = {
        ...normalizeOperation({ kind: Kind.DOCUMENT, definitions: [definition, ...fragmentsUsedBy(definition, fragments)] }),
        file: snippet.file,
        line,
      };
      seen.set(name, operation);
      operations.push(operation);
    }
  }
  return { operations, problems };
}

/** The fragments an operation spreads, directly or through other fragments. */
function fragmentsUsedBy(root: DefinitionNode, fragments: ReadonlyMap<string, FragmentDefinitionNode>): FragmentDefinitionNode[] {
  const used = new Map<string, FragmentDefinitionNode>();
  const pending: DefinitionNode[] = [root];
  while (pending.length > 0) {
    const node = pending.pop()!;
    for (const name of spreadNames(node)) {
      const fragment = fragments.get(name);
      if (fragment && !used.has(name)) {
        used.set(name, fragment);
        pending.push(fragment);
      }
    }
  }
  return [...used.values()];
}

function spreadNames(node: DefinitionNode): string[] {
  const names: string[] = [];
  visit(node, { FragmentSpread: (spread) => void names.push(spread.name.value) });
  return names;
}
