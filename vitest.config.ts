import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packages = ['contracts', 'platform', 'server', 'runner', 'client', 'cli'];

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources; child processes started by tests run the built dist/.
    alias: [
      ...packages.map((name) => ({
        find: new RegExp(`^@controlplane/${name}$`),
        replacement: fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url)),
      })),
      // The error vocabulary alone, for code that must not load the whole contracts package.
      {
        find: /^@controlplane\/contracts\/internal-error$/,
        replacement: fileURLToPath(new URL('./packages/contracts/src/internal-error.ts', import.meta.url)),
      },
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
