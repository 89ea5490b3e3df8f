/**
 * The release a new one is compared with: the newest git tag `v*` other than
 * the version being cut, else the first commit that has the persisted-query
 * manifest (the project's start, before any release was tagged). A shallow
 * clone has neither: CI checks out the whole history for this
 * (docs/adr/0032-release-evidence.md).
 */
import { execFileSync } from 'node:child_process';

export type PreviousRelease =
  | { kind: 'tag'; ref: string; commit: string }
  | { kind: 'first-commit-with-manifest'; ref: string; commit: string }
  | { kind: 'unavailable'; reason: string };

export const MANIFEST_IN_REPO = 'persisted-queries/manifest.json';

const git = (repoRoot: string, args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();

export function findPreviousRelease(repoRoot: string, version: string): PreviousRelease {
  if (git(repoRoot, ['rev-parse', '--is-shallow-repository']) === 'true')
    return { kind: 'unavailable', reason: 'shallow clone: the history before HEAD is not here (fetch it with git fetch --unshallow)' };
  const tag = git(repoRoot, ['tag', '--list', 'v*', '--sort=-v:refname'])
    .split('\n')
    .find((name) => name !== '' && name !== `v${version}`);
  if (tag !== undefined) return { kind: 'tag', ref: tag, commit: git(repoRoot, ['rev-list', '-n', '1', tag]) };
  const first = git(repoRoot, ['log', '--diff-filter=A', '--format=%H', '--', MANIFEST_IN_REPO]).split('\n').at(-1) ?? '';
  if (first === '') return { kind: 'unavailable', reason: `no commit has ${MANIFEST_IN_REPO}` };
  return { kind: 'first-commit-with-manifest', ref: first.slice(0, 12), commit: first };
}

/** A file as it was at `commit`, or undefined when it did not exist there. */
export function fileAt(repoRoot: string, commit: string, path: string): string | undefined {
  try {
    return execFileSync('git', ['show', `${commit}:${path}`], { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

/** Files under `folder` added or changed since `commit`, with git's status letter (A, M, …). */
export function changedSince(repoRoot: string, commit: string, folder: string): { status: string; path: string }[] {
  return git(repoRoot, ['diff', '--name-status', '--no-renames', commit, 'HEAD', '--', folder])
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [status, path] = line.split('\t');
      return { status: status!, path: path! };
    });
}

export const headCommit = (repoRoot: string) => git(repoRoot, ['rev-parse', 'HEAD']);
