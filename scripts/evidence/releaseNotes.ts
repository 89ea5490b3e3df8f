/**
 * RELEASE-NOTES.md of an evidence bundle: the decisions (ADRs) and the
 * changelogs of operations and policy since the previous release, and what
 * the evidence beside it says, in a page a reader takes in at once.
 */
import type { ChangelogSection } from './changelogSections';
import type { ManifestDiff } from './manifestDiff';
import type { PreviousRelease } from './previousRelease';

export interface ReleaseNotesInput {
  version: string;
  commit: string;
  date: string;
  previous: PreviousRelease;
  /** ADRs added or changed since the previous release (all of them when it is unavailable). */
  decisions: { path: string; title: string; status: 'added' | 'changed' }[];
  manifestDiff: ManifestDiff | undefined;
  operationsChanges: ChangelogSection[];
  policyVersion: string;
  policyChanges: ChangelogSection[];
  evidence: string[];
}

const since = (previous: PreviousRelease) =>
  previous.kind === 'tag'
    ? `the previous release, tag \`${previous.ref}\` (${previous.commit.slice(0, 12)})`
    : previous.kind === 'first-commit-with-manifest'
      ? `the first commit with the persisted-query manifest, \`${previous.ref}\` (no release is tagged yet)`
      : `nothing: ${previous.reason}`;

const names = (list: string[]) => (list.length === 0 ? 'none' : list.map((name) => `\`${name}\``).join(', '));

const sections = (list: ChangelogSection[], none: string) =>
  list.length === 0 ? [none] : list.flatMap(({ heading, body }) => [`### ${heading}`, '', body, '']);

export function renderReleaseNotes(input: ReleaseNotesInput): string {
  const { manifestDiff: diff } = input;
  const lines = [
    `# Coherence ${input.version}`,
    '',
    `Cut from commit ${input.commit.slice(0, 12)} on ${input.date}; compared with ${since(input.previous)}.`,
    '',
    '## Decisions (docs/adr)',
    '',
    ...(input.decisions.length === 0
      ? ['No decision record was added or changed.']
      : input.decisions.map(({ path, title, status }) => `- ${title} (${status}: \`${path}\`)`)),
    '',
    '## Persisted operations',
    '',
    diff === undefined
      ? 'No previous manifest to compare with.'
      : `New: ${names(diff.newOperations)}. Changed: ${names(diff.changedOperations)}. ` +
        `Removed (clients still sending them are refused): ${names(diff.removedOperations)}. ` +
        `${diff.addedIds.length} id(s) added, ${diff.removedIds.length} removed, ${diff.unchangedIds} unchanged ` +
        '(`persisted-queries-diff.json`).',
    '',
    ...sections(input.operationsChanges, 'No new entry in `persisted-queries/CHANGES.md`.'),
    '',
    '## Policy',
    '',
    `Bundle version ${input.policyVersion} (\`policy/VERSION\`).`,
    '',
    ...sections(input.policyChanges, 'No new entry in `policy/CHANGES.md`.'),
    '',
    '## Evidence in this bundle',
    '',
    ...input.evidence.map((line) => `- ${line}`),
    '',
    'Check the files with `sha256sum -c SHA256SUMS` in this folder.',
    '',
  ];
  return lines.join('\n').replace(/\n{3,}/g, '\n\n');
}
