/**
 * The sections of a changelog (`## <heading>` and what follows it up to the
 * next one) that a release adds: those whose heading the previous release's
 * copy of the file did not have.
 */
export interface ChangelogSection {
  heading: string;
  body: string;
}

export function changelogSections(text: string): ChangelogSection[] {
  const sections: ChangelogSection[] = [];
  for (const line of text.split('\n')) {
    const heading = /^## (.+)$/.exec(line)?.[1];
    if (heading !== undefined) sections.push({ heading: heading.trim(), body: '' });
    else if (sections.length > 0) sections.at(-1)!.body += `${line}\n`;
  }
  return sections.map(({ heading, body }) => ({ heading, body: body.trim() }));
}

/** Every section of `current` when there is no previous copy. */
export function newChangelogSections(current: string, previous: string | undefined): ChangelogSection[] {
  const known = new Set(changelogSections(previous ?? '').map((section) => section.heading));
  return changelogSections(current).filter((section) => !known.has(section.heading));
}
