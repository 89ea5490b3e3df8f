// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '.cache/**', '.data/**', 'coverage/**', 'reports/**'] },
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
    // Vitest's config and global setup must be default/named exports by its rules.
    files: ['vitest.config.ts', 'eslint.config.js'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
