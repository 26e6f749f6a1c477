import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

const packages = ['contracts', 'platform', 'server', 'runner', 'client', 'cli'];

const TEST_DIRS = ['packages/*/test/**', 'test/**'];
const files = (suffix: string): string[] => TEST_DIRS.map((dir) => `${dir}/*${suffix}`);

/**
 * One project per test tier, chosen by the file name's suffix (scripts/check-test-tiers.mjs checks
 * that the suffix matches what a file uses): `vitest run --project unit`, or `npm run test:unit`.
 */
function tier(name: string, include: string[], exclude: string[] = [], setupFiles: string[] = []): TestProjectInlineConfiguration {
  // extends: the aliases and timeouts below; include and exclude are the project's own.
  return { extends: true, test: { name, include, exclude: [...configDefaults.exclude, ...exclude], setupFiles } };
}

// Sockets and child processes are refused in the tiers that must run with no service at all.
const inProcessOnly = ['./test/support/in-process-only.ts'];

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
    projects: [
      // No service, no socket, no process: *.test.ts without a tier suffix.
      tier(
        'unit',
        files('.test.ts'),
        ['.pglite.test.ts', '.pg.test.ts', '.redis.test.ts', '.redis.pg.test.ts', '.e2e.test.ts', '.browser.test.ts'].map(
          (s) => `**/*${s}`,
        ),
        inProcessOnly,
      ),
      // Embedded PostgreSQL (PGlite) in the test process, and still no service.
      tier('pglite', files('.pglite.test.ts'), [], inProcessOnly),
      // A PostgreSQL server (TEST_DATABASE_URL).
      tier('pg', files('.pg.test.ts'), ['**/*.redis.pg.test.ts']),
      // A Redis server (TEST_REDIS_URL), with PostgreSQL when the name says .redis.pg.
      tier('redis', [...files('.redis.test.ts'), ...files('.redis.pg.test.ts')]),
      // The system's processes and servers over real TLS, with the live services; runs the built dist/.
      tier('e2e', files('.e2e.test.ts')),
      // Browser tests (*.browser.test.ts) run only with vitest.browser.config.ts: npm run test:browser.
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
