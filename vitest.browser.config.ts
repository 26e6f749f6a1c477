import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The browser tier: Chromium (Debian's, driven by playwright-core) against the dashboard of a running
 * `controlplane dev`. Not part of `vitest run`: `npm run test:browser` runs it after a build;
 * CP_BROWSER_TESTS=reduced (what .ci/run sets) leaves out the 100,000-job measurement.
 */
export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ['packages/*/test/**/*.browser.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    pool: 'forks',
    maxWorkers: 1,
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
