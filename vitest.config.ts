import { defineConfig } from 'vitest/config';

const exclude = ['**/node_modules/**', '**/.cache/**', '**/.data/**'];

/**
 * Test level by file suffix (CONVENTIONS.md #10): `*.test.ts` unit tests run
 * alone; `*.int.ts` (real servers) and `*.e2e.ts` (whole stack) share one set
 * of servers started by the global setup, each file in its own namespace.
 */
export default defineConfig({
  test: {
    // Two cores also run the JVMs; more workers would only add contention.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    projects: [
      { test: { name: 'unit', include: ['**/src/**/*.test.ts', 'scripts/**/*.test.ts'], exclude } },
      {
        test: {
          name: 'integration',
          include: ['**/src/**/*.int.ts', '**/src/**/*.e2e.ts', 'scripts/**/*.int.ts'],
          exclude,
          globalSetup: ['./packages/testkit/src/vitestGlobalSetup.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
