// ESLint flat config: typescript-eslint's recommended rules plus the layering rule of
// docs/ARCHITECTURE.md (imports point down only: gm → pki → domain cores → adapters → apps).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Packages a layer must not import, keyed by the folder its files live in. */
const forbidden = {
  'packages/gm': ['@medsign/*'],
  'packages/pki': ['@medsign/!(gm)'],
};
const domainCores = ['ca', 'tsa', 'sign', 'seal', 'platform'];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/build/**', '**/node_modules/**', 'medsign-data/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', URL: 'readonly' },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'TSEnumDeclaration',
          message: 'Use an `as const` object and a union type (conventions.md §2).',
        },
        { selector: 'TSModuleDeclaration[kind="namespace"]', message: 'No namespaces (conventions.md §2).' },
      ],
    },
  },
  ...Object.entries(forbidden).map(([dir, patterns]) => ({
    files: [`${dir}/src/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: patterns, message: 'Imports point down only (ARCHITECTURE.md).' }] },
      ],
    },
  })),
  {
    files: domainCores.map((c) => `packages/${c}/src/**/*.ts`),
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ['fastify', 'pg', 'better-sqlite3', 'kysely'].map((name) => ({
            name,
            message: 'Domain cores take storage and transport through ports (conventions.md §1).',
          })),
          patterns: [
            {
              group: [
                '@medsign/store',
                '@medsign/keystore',
                '@medsign/sdk',
                '@medsign/server',
                '@medsign/cli',
              ],
              message: 'Imports point down only.',
            },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Config comes in through ports.' },
        { object: 'Date', property: 'now', message: 'Time comes in through the clock port.' },
      ],
    },
  },
);
