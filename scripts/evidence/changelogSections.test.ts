import { describe, expect, it } from 'vitest';
import { changelogSections, newChangelogSections } from './changelogSections';

const previous = '# Changes\n\nIntro.\n\n## 1.0.0\n\n- first\n';
const current = '# Changes\n\nIntro.\n\n## 1.1.0\n\n- second\n- third\n\n## 1.0.0\n\n- first\n';

describe('changelogSections', () => {
  it('splits at level-two headings and leaves the text before the first out', () => {
    expect(changelogSections(current)).toEqual([
      { heading: '1.1.0', body: '- second\n- third' },
      { heading: '1.0.0', body: '- first' },
    ]);
  });

  it('keeps only the sections the previous copy did not have', () => {
    expect(newChangelogSections(current, previous)).toEqual([{ heading: '1.1.0', body: '- second\n- third' }]);
  });

  it('keeps every section when there was no previous copy', () => {
    expect(newChangelogSections(current, undefined).map((section) => section.heading)).toEqual(['1.1.0', '1.0.0']);
  });
});
