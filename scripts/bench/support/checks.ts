/** Targets of a benchmark or drill, by what they say, and how the summaries print them. */
export type Checks = Record<string, boolean>;

export const verdict = (passed: boolean) => (passed ? 'PASS' : 'FAIL');

export const allPassed = (checks: Checks) => Object.values(checks).every(Boolean);

/** One "  PASS  name" / "  FAIL  name" line per check. */
export function checkLines(checks: Checks): string {
  return Object.entries(checks)
    .map(([name, ok]) => `  ${verdict(ok)}  ${name}`)
    .join('\n');
}
