// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Import rule from the design notes: nothing imports controller/ or cli/; invoker never imports controller/. */
const layer = (dir, forbidden) => ({
  files: [`${dir}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', {
      patterns: forbidden.map((f) => ({ group: [`**/${f}/**`, `../${f}/*`, `../../${f}/*`], message: `${dir}/ must not import ${f}/` })),
    }],
  },
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.swirl/**', 'runtimes/**/proxy/**', 'runtimes/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // tests read JSON replies of many shapes
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // the dashboard's scripts run in the browser, served as they are (no build)
    files: ['controller/dashboard/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'sessionStorage', 'fetch', 'btoa', 'console', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'AbortController', 'TextDecoderStream'].map((g) => [g, 'readonly']),
      ),
    },
  },
  layer('common', ['controller', 'cli', 'invoker', 'loadbalancer']),
  layer('loadbalancer', ['controller', 'cli', 'invoker']),
  layer('invoker', ['controller', 'cli', 'loadbalancer']),
  layer('cli', ['controller', 'invoker', 'loadbalancer']),
  layer('runtimes', ['controller', 'cli', 'invoker', 'loadbalancer']),
);
