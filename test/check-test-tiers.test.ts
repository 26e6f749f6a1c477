// scripts/check-test-tiers.mjs on small trees of test files: what it lets through and what it refuses.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkTestTiers } from '../scripts/check-test-tiers.mjs';

const roots: string[] = [];

afterEach(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});

/** Writes the files (path → source) into a fresh root and checks it. */
async function check(files: Record<string, string>): Promise<ReturnType<typeof checkTestTiers>> {
  const root = await mkdtemp(join(tmpdir(), 'cp-test-tiers-'));
  roots.push(root);
  for (const [path, source] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), source);
  }
  return checkTestTiers(root);
}

// Support modules shaped like the project's own.
const SUPPORT = {
  'test/support/postgres.ts': "import pg from 'pg';\nexport async function createTestDatabase() { return new pg.Client(); }\n",
  'test/support/redis.ts':
    "import type { Redis } from 'ioredis';\nimport { createRedis } from '@controlplane/server';\nexport const open = (): Promise<Redis> => createRedis({});\n",
  'test/support/sql-port-contract.ts':
    "import { describe } from 'vitest';\nexport function describeSqlPortContract() { describe('x', () => {}); }\n",
};
const PG_TEST = "import { createTestDatabase } from '../../../test/support/postgres.js';\nawait createTestDatabase();\n";
const REDIS_TEST = "import { open } from '../../../test/support/redis.js';\nawait open();\n";

describe('check-test-tiers', () => {
  it('lets through every tier when each file uses what its name says', async () => {
    const { files, problems } = await check({
      ...SUPPORT,
      'packages/a/test/pure.test.ts':
        "import { describe } from 'vitest';\nimport type { Redis } from 'ioredis';\n// Unlike createRedis(), this needs no server.\n",
      'packages/a/test/embedded.pglite.test.ts':
        "import { createPgliteDatabase } from '@controlplane/server';\nimport { describeSqlPortContract } from '../../../test/support/sql-port-contract.js';\n",
      'packages/a/test/store.pg.test.ts': PG_TEST,
      'packages/a/test/bucket.redis.test.ts': REDIS_TEST,
      'packages/a/test/queue.redis.pg.test.ts': PG_TEST + REDIS_TEST,
      'packages/a/test/system.e2e.test.ts': "import { spawn } from 'node:child_process';\n" + PG_TEST,
      'packages/a/test/support/private-redis.ts':
        "// test-needs: redis\nimport { spawn } from 'node:child_process';\nspawn('redis-server');\n",
      'packages/a/test/restart.redis.test.ts': "import './support/private-redis.js';\n",
    });
    expect(problems).toEqual([]);
    expect(files.map((f) => [f.file, f.tier, f.needs.sort()])).toEqual([
      ['packages/a/test/bucket.redis.test.ts', 'redis', ['redis']],
      ['packages/a/test/embedded.pglite.test.ts', 'pglite', ['pglite']],
      ['packages/a/test/pure.test.ts', 'unit', []],
      ['packages/a/test/queue.redis.pg.test.ts', 'redis', ['postgres', 'redis']],
      ['packages/a/test/restart.redis.test.ts', 'redis', ['redis']],
      ['packages/a/test/store.pg.test.ts', 'pg', ['postgres']],
      ['packages/a/test/system.e2e.test.ts', 'e2e', ['postgres', 'process']],
    ]);
  });

  it('refuses a unit test that reaches PostgreSQL or Redis through test support, and names the tier it belongs to', async () => {
    const { problems } = await check({
      ...SUPPORT,
      'packages/a/test/support/harness.ts': "export * from '../../../../test/support/postgres.js';\n",
      'packages/a/test/keys.test.ts': "import { createTestDatabase } from './support/harness.js';\n",
      'packages/a/test/limits.test.ts': REDIS_TEST,
      'packages/a/test/both.test.ts': PG_TEST + REDIS_TEST,
    });
    expect(problems).toEqual([
      expect.stringMatching(
        /^packages\/a\/test\/both\.test\.ts: uses a PostgreSQL server .*a Redis server .*rename it to both\.redis\.pg\.test\.ts$/,
      ),
      expect.stringMatching(
        /^packages\/a\/test\/keys\.test\.ts: uses a PostgreSQL server \(imports 'pg' in test\/support\/postgres\.ts\), which the unit tier .*keys\.pg\.test\.ts$/,
      ),
      expect.stringMatching(
        /^packages\/a\/test\/limits\.test\.ts: uses a Redis server \(createRedis in test\/support\/redis\.ts\), .*limits\.redis\.test\.ts$/,
      ),
    ]);
  });

  it('refuses processes and servers outside the e2e tier, and PGlite in the unit tier', async () => {
    const { problems } = await check({
      ...SUPPORT,
      'packages/a/test/tls.test.ts': "import https from 'node:https';\nhttps.createServer({}).listen(0);\n",
      'packages/a/test/app.test.ts': 'await app.listen({ port: 0 });\n',
      'packages/a/test/sandbox.test.ts': "import { runJobInSandbox } from '@controlplane/runner';\n",
      'packages/a/test/audit.pg.test.ts': "import { spawn } from 'node:child_process';\n" + PG_TEST,
      'packages/a/test/embedded.test.ts': "const { createPgliteDatabase } = await import('@controlplane/server');\n",
    });
    expect(problems).toEqual([
      expect.stringMatching(/app\.test\.ts: uses a listening server \(\.listen\(\) in .*rename it to app\.e2e\.test\.ts$/),
      expect.stringMatching(
        /audit\.pg\.test\.ts: uses child processes .*which the pg tier does not allow; rename it to audit\.e2e\.test\.ts$/,
      ),
      expect.stringMatching(/embedded\.test\.ts: uses embedded PostgreSQL \(PGlite\) .*rename it to embedded\.pglite\.test\.ts$/),
      expect.stringMatching(/sandbox\.test\.ts: uses child processes \(runJobInSandbox in .*rename it to sandbox\.e2e\.test\.ts$/),
      expect.stringMatching(/tls\.test\.ts: uses a listening server \(createServer in .*rename it to tls\.e2e\.test\.ts$/),
    ]);
  });

  it('refuses a tier name the file does not live up to', async () => {
    const { problems } = await check({
      ...SUPPORT,
      'packages/a/test/pure.pg.test.ts': "import { expect } from 'vitest';\n",
      'packages/a/test/only-db.e2e.test.ts': PG_TEST,
      'packages/a/test/half.redis.pg.test.ts': REDIS_TEST,
      'packages/a/test/contract.pglite.test.ts': "import { describeSqlPortContract } from '../../../test/support/sql-port-contract.js';\n",
    });
    expect(problems).toEqual([
      'packages/a/test/contract.pglite.test.ts: named .pglite. but uses nothing outside the test process; rename it to contract.test.ts',
      'packages/a/test/half.redis.pg.test.ts: named .pg. but uses a Redis server; rename it to half.redis.test.ts',
      'packages/a/test/only-db.e2e.test.ts: named .e2e. but uses a PostgreSQL server; rename it to only-db.pg.test.ts',
      'packages/a/test/pure.pg.test.ts: named .pg. but uses nothing outside the test process; rename it to pure.test.ts',
    ]);
  });

  it('refuses an unknown suffix and a test file where vitest does not look', async () => {
    const { problems } = await check({
      'packages/a/test/flow.integration.test.ts': '',
      'packages/a/src/inline.test.ts': '',
    });
    expect(problems).toEqual([
      'packages/a/src/inline.test.ts: outside packages/*/test/ and test/, so vitest never runs it',
      expect.stringMatching(/^packages\/a\/test\/flow\.integration\.test\.ts: unknown tier suffix/),
    ]);
  });
});
