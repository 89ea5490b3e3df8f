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
