// @ts-check
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/**
 * Files that only tests, benchmarks, drills and tooling run: they may use
 * devDependencies. composeSupergraph runs at build time (scripts/artifacts.ts
 * writes the checked-in supergraph the gateway serves), so the subgraphs it
 * composes are the gateway's devDependencies, not what it ships with.
 */
const testAndToolFiles = [
  '**/*.test.ts',
  '**/*.int.ts',
  '**/*.e2e.ts',
  '**/__fixtures__/**',
  'e2e/**',
  'scripts/**',
  '*.config.ts',
  'eslint.config.js',
  'gateway/src/supergraph/composeSupergraph.ts',
];
/** Our workspaces that lie below the application: what the test kit may build on. */
const belowTheApplication = ['@coherence/contracts', '@coherence/auth'];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '.cache/**', '.data/**', 'coverage/**', 'reports/**', 'apps/workbench/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportDefaultDeclaration', message: 'Use named exports.' }],
    },
  },
  {
    // Config is read once, in config modules (ARCHITECTURE.md, "Config").
    files: ['gateway/src/**', 'subgraphs/*/src/**', 'packages/contracts/src/**', 'packages/platform/src/**', 'persisted-queries/src/**'],
    ignores: ['**/config.ts', 'packages/platform/src/loadConfig.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read configuration in config.ts.' }],
    },
  },
  {
    // The core never imports the process shell (CONVENTIONS.md #1).
    files: ['subgraphs/*/src/modules/**', 'gateway/src/persisted/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/main', '**/config'], message: 'Domain code must not import the process shell or config.' }] },
      ],
    },
  },
  {
    // A step is one concern over the request context; steps meet only in the wiring (docs/adr/0009-gateway-pipeline.md).
    files: ['gateway/src/pipeline/use*.ts'],
    ignores: ['**/*.test.ts', '**/*.int.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['./use*', '../pipeline/use*'],
              message: 'A pipeline step must not import another step: share through the request context.',
            },
          ],
        },
      ],
    },
  },
  {
    // Each workspace (and the root, for e2e/ and scripts/) declares every
    // package it imports, ours too, so the package graph turbo orders tasks
    // by is the real one (docs/adr/0017-devservices-apart-from-testkit.md).
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })],
      'import-x/internal-regex': '^@coherence/',
    },
    rules: {
      'import-x/no-extraneous-dependencies': [
        'error',
        {
          includeInternal: true,
          includeTypes: true,
          devDependencies: testAndToolFiles,
          optionalDependencies: false,
          peerDependencies: false,
        },
      ],
      // A relative path into another workspace (or the root) is an undeclared import.
      'import-x/no-relative-packages': 'error',
    },
  },
  {
    // Server provisioning serves the stack, benchmarks, drills and tests alike: it builds on no package of ours.
    files: ['packages/devservices/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['@coherence/*'], message: 'packages/devservices depends on no workspace: callers pass in what it needs.' }],
        },
      ],
    },
  },
  {
    // Test helpers sit below every service: whatever needs the application lives in e2e/support/.
    files: ['packages/testkit/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@coherence/*', ...belowTheApplication.map((name) => `!${name}`)],
              message: `packages/testkit builds only on ${belowTheApplication.join(', ')}: helpers that need the application go to e2e/support/.`,
            },
          ],
        },
      ],
    },
  },
  {
    // What a service ships never needs the kits (they are devDependencies for its tests).
    files: ['gateway/src/**', 'subgraphs/*/src/**', 'packages/*/src/**', 'persisted-queries/src/**', 'fixtures/src/**'],
    ignores: [...testAndToolFiles, 'packages/testkit/**', 'packages/devservices/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@coherence/testkit', '@coherence/testkit/*', '@coherence/devservices', '@coherence/devservices/*'],
              message: 'Only tests, e2e/, scripts/ and the kits themselves import the test kit or the dev services kit.',
            },
          ],
        },
      ],
    },
  },
  {
    // Vitest's config and global setup must be default/named exports by its rules.
    files: ['vitest.config.ts', 'eslint.config.js'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
