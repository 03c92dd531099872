// ESLint over the repository's JavaScript: pkg/ (the npm package), www/ (the demo page),
// tests/browser/ (these tests and their pages) and bench/ (benchmarks and profiles). It lives here, beside the npm tooling, and runs
// from the repository root, so its patterns are relative to the root:
//
//   (cd tests/browser && npm run lint)
//   # the same: tests/browser/node_modules/.bin/eslint -c tests/browser/eslint.config.js pkg www tests/browser bench
//
// ESLint's recommended rules, plus a few that catch bugs; no style rules: Prettier owns the style
// (`npm run format:check`, .prettierrc.json here). Globals follow where each file runs.
import js from '@eslint/js';
import globals from 'globals';

// Worker entry points (module workers unless listed under CLASSIC_WORKERS).
const WORKERS = [
  'pkg/thread-worker.js',
  'pkg/training-worker.js',
  'www/worker.js',
  'tests/browser/package-pages/worker.js',
  'tests/browser/threads-pages/worker.js',
  'bench/bench-pages/threads-worker.js',
  'tests/browser/vite-threads-app/worker.js',
  'tests/browser/demo-fixtures/leaky/leak-worker.js',
];
// Plain (non-module) scripts: a page's <script src> and classic workers.
const CLASSIC_PAGE_SCRIPTS = ['tests/browser/pages/webgpu-probe.js'];
const CLASSIC_WORKERS = [
  'tests/browser/pages/console-worker.js',
  'tests/browser/pages/isolation-worker.js',
  'tests/browser/pages/webgpu-worker.js',
  'tests/browser/pages/worker-fetch.js',
];
const CLASSIC_SHARED_WORKERS = ['tests/browser/pages/shared-worker-fetch.js'];
// Node: the test runner's files, which hand callbacks to the page (page.evaluate,
// waitForFunction) whose bodies run in the browser, so they get the browser's globals too…
const NODE = ['tests/browser/*.mjs', 'bench/*.mjs'];
// …and Node only: the demo's server, the bundler configs, this file, the type check's scripts.
const NODE_ONLY = [
  'www/serve.mjs',
  'tests/browser/vite-*/vite.config.js',
  'tests/browser/eslint.config.js',
  'tests/browser/types/*.mjs',
];

export default [
  // Generated: wasm-bindgen's glue (./build.sh pkg), bundler output, the README example's copy.
  { ignores: ['pkg/wasm/**', 'www/pkg/**', '**/dist/**', 'tests/browser/types/*.gen.js'] },
  js.configs.recommended,
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      'no-unused-vars': ['error', { args: 'after-used', caughtErrors: 'all', ignoreRestSiblings: true }],
      'array-callback-return': 'error',
      eqeqeq: ['error', 'smart'],
      'no-constructor-return': 'error',
      'no-self-compare': 'error',
      'no-template-curly-in-string': 'error',
      'no-throw-literal': 'error',
      'no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
      'no-unmodified-loop-condition': 'error',
      'no-unreachable-loop': 'error',
      'prefer-promise-reject-errors': 'error',
      // A use before its declaration in the same scope (a temporal-dead-zone error); uses inside
      // functions, which run later, are fine.
      'no-use-before-define': ['error', { functions: false, classes: false, variables: false }],
    },
  },
  // Globals are merged across the entries that match a file, so each set is given only where it holds.
  {
    files: ['**/*.js', '**/*.mjs'],
    ignores: [...WORKERS, ...CLASSIC_WORKERS, ...CLASSIC_SHARED_WORKERS, ...NODE_ONLY],
    // Code shared by pages and workers tells them apart with `typeof WorkerGlobalScope`.
    languageOptions: { globals: { ...globals.browser, WorkerGlobalScope: 'readonly' } },
  },
  { files: WORKERS, languageOptions: { globals: globals.worker } },
  { files: CLASSIC_PAGE_SCRIPTS, languageOptions: { sourceType: 'script' } },
  { files: CLASSIC_WORKERS, languageOptions: { sourceType: 'script', globals: globals.worker } },
  { files: CLASSIC_SHARED_WORKERS, languageOptions: { sourceType: 'script', globals: globals.sharedWorker } },
  { files: [...NODE, ...NODE_ONLY], languageOptions: { globals: globals.node } },
];
