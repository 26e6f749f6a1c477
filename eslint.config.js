// Lint rules that keep the package boundaries honest: a package is used only
// through its public entry point, never through another package's src/ or dist/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const PACKAGE_BOUNDARIES = [
  {
    // @controlplane/contracts/internal-error is a declared entry point (package.json exports): the
    // error vocabulary without the schemas, for the runner's sandbox children that load it per job.
    group: ['@controlplane/*/*', '!@controlplane/contracts/internal-error'],
    message: 'Import a package through its public entry point (@controlplane/<name>), not its internals.',
  },
  {
    group: ['../../*/src/*', '../../*/src', '../../../*/src/*', '**/packages/*/src/**', '**/packages/*/dist/**'],
    message: "Do not reach into another package's internals; import @controlplane/<name>.",
  },
];

// Inside a package, a folder is a room: another folder uses it through its index.ts (or, for what
// only the package's own folders may use, its internal.ts), never by reaching for one of its files.
const FOLDER_BOUNDARIES = [
  {
    regex: String.raw`^(\.\./)+[^./][^/]*/(?!(index|internal)\.js$)`,
    message: 'Import a sibling folder through its index.js (or its internal.js), not one of its files.',
  },
];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', '.controlplane/**', '.tmp/**', '.scratch/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        clearImmediate: 'readonly',
        performance: 'readonly',
        fetch: 'readonly',
        structuredClone: 'readonly',
        queueMicrotask: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-imports': ['error', { patterns: PACKAGE_BOUNDARIES }],
    },
  },
  {
    files: ['packages/*/src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [...PACKAGE_BOUNDARIES, ...FOLDER_BOUNDARIES] }] },
  },
  {
    // process.env is read only by the configuration loader (and by tests / scripts / the CLI entry).
    files: ['packages/*/src/**/*.ts'],
    ignores: ['packages/platform/src/config/**', 'packages/cli/src/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Read configuration through the platform config loader; process.env is read in one place.',
        },
      ],
    },
  },
  {
    // Tests read JSON answers from the wire; typing every probe of them adds nothing.
    files: ['**/test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
