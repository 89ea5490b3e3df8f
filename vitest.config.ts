import { defineConfig } from 'vitest/config';
import { LongestFilesFirst } from './e2e/support/longestFilesFirst';

const exclude = ['**/node_modules/**', '**/.cache/**', '**/.data/**'];

/**
 * Test level by file suffix (CONVENTIONS.md #10): `*.test.ts` unit tests run
 * alone; `*.int.ts` (real servers) and `*.e2e.ts` (whole stack) share one set
 * of servers started by the global setup, each file in its own namespace.
 */
export default defineConfig({
  resolve: {
    // graphql 16 ships ESM and CJS copies; Vite would load the ESM one for our
    // imports while Apollo's CommonJS loads the other, and graphql refuses to
    // mix objects from two copies. Node itself always picks the CJS one.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    // Whole-repo coverage, on only when asked (`--coverage`, as scripts/test.sh does); a floor, not a goal
    // (docs/adr/0032-release-evidence.md). Only code that runs in a test's own process is seen: what the tests start
    // as child processes (drills, crash tests, benches' servers) is counted as not run.
    coverage: {
      provider: 'v8',
      include: ['**/src/**/*.ts', 'scripts/**/*.ts'],
      exclude: [
        ...exclude,
        // The tests themselves.
        '**/*.test.ts',
        '**/*.int.ts',
        '**/*.e2e.ts',
        // Test support: helpers of the tests, not product code (docs/adr/0017-devservices-apart-from-testkit.md).
        'packages/testkit/**',
        '**/__fixtures__/**',
        // Declarations only: nothing to run.
        '**/*.d.ts',
        // Command-line entry points the test command runs only as child processes, which v8 does not follow: the
        // operator commands (scripts/commandLine.test.ts, scripts/dev-token.test.ts, e2e/migrate.e2e.ts,
        // e2e/boundary.e2e.ts), the drill and stack commands (scripts/drills/drill.test.ts, scripts/stack.test.ts),
        // the checks of `npm run check` and the evidence step (scripts/test.sh, scripts/evidence.test.ts). The
        // modules they import are counted.
        'scripts/{backup,graph,outbox,dev-token,migrate,retention,stack,artifacts,policy,evidence}.ts',
        'scripts/drills/drill.ts',
        // The Workbench's browser code runs in Chromium (e2e/workbench.e2e.ts), where Node's v8 coverage never sees it.
        'apps/workbench/src/**',
      ],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'reports/coverage/whole-repo',
      // A failing run still gets its coverage: the evidence bundle of that run needs it (scripts/evidence.ts).
      reportOnFailure: true,
      // First whole-suite figures (2026-11-27): lines 84.2 %, branches 90.2 % (docs/adr/0032-release-evidence.md).
      thresholds: { lines: 80, branches: 80 },
    },
    // Two cores also run the JVMs; more workers would only add contention.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    sequence: { sequencer: LongestFilesFirst },
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['**/src/**/*.test.ts', 'scripts/**/*.test.ts', 'apps/*/server/**/*.test.ts'], exclude },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['**/src/**/*.int.ts', '**/src/**/*.e2e.ts', 'e2e/**/*.e2e.ts'],
          exclude,
          globalSetup: ['./e2e/support/vitestGlobalSetup.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
