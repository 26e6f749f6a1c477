// Types for scripts/check-test-tiers.mjs, so that its test can import it.
export interface TieredTestFile {
  /** Path relative to the root. */
  file: string;
  tier: 'unit' | 'pglite' | 'pg' | 'redis' | 'e2e';
  needs: Array<'postgres' | 'redis' | 'pglite' | 'process' | 'server'>;
}

export function checkTestTiers(root: string): { files: TieredTestFile[]; problems: string[] };
