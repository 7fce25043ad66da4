// ESLint flat config: typescript-eslint's recommended rules plus the layering rule of
// docs/ARCHITECTURE.md (imports point down only: gm → pki → domain cores → adapters → apps).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * Which @medsign packages each package may import (imports point down only). Anything else under
 * @medsign/ is an error; apps may import everything.
 */
const allowedImports = {
  'packages/gm': [],
  'packages/errors': [],
  'packages/pki': ['gm'],
  'packages/ca': ['gm', 'pki', 'errors'],
  'packages/tsa': ['gm', 'pki', 'errors'],
  'packages/sign': ['gm', 'pki', 'errors'],
  'packages/store': ['gm', 'pki', 'errors'],
  'packages/keystore': ['gm', 'pki', 'errors'],
  // Signed PDF reports: the document model, PDF rendering and PAdES signing over pki's CMS code only.
  'packages/report': ['gm', 'pki'],
  // The SDK runs in browsers too: SM3/HMAC from gm and the request signature from sign's ./auth only.
  'packages/sdk': ['gm', 'sign'],
  'packages/testkit': ['gm', 'pki', 'errors', 'ca', 'tsa', 'store', 'keystore', 'cli'],
};
const layerRule = (allowed) => ({
  group: ['@medsign/*', ...allowed.flatMap((a) => [`!@medsign/${a}`, `!@medsign/${a}/*`])],
  message: 'Imports point down only (docs/ARCHITECTURE.md): this package may not import that one.',
});
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
  ...Object.entries(allowedImports).map(([dir, allowed]) => ({
    files: [`${dir}/src/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns: [layerRule(allowed)] }] },
  })),
  // The integration examples use what a hospital system's vendor installs: the SDK (and gm, its dependency).
  {
    files: ['examples/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [layerRule(['sdk', 'gm'])] }] },
  },
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
          patterns: [layerRule(['gm', 'pki', 'errors'])],
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
