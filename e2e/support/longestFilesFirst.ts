import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files that take far longer than any other, longest first. With two workers a
 * file that runs for a quarter of an hour has to start first: started last (a
 * fresh clone has no timing cache, and Vitest then orders by file size) it runs
 * on alone long after the rest have finished.
 */
const LONG_FILES = ['e2e/drills.e2e.ts', 'e2e/coherenceGolden.e2e.ts'];

/** Vitest's own order (failed first, then slowest known first), with the {@link LONG_FILES} in front. */
export class LongestFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (file: TestSpecification) => {
      const index = LONG_FILES.findIndex((name) => file.moduleId.endsWith(name));
      return index === -1 ? LONG_FILES.length : index;
    };
    return sorted
      .map((file, position) => ({ file, position }))
      .sort((a, b) => rank(a.file) - rank(b.file) || a.position - b.position)
      .map(({ file }) => file);
  }
}
