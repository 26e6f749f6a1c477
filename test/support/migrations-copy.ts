// A scratch copy of the server's migrations, for the migration tests on PostgreSQL and on PGlite.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MIGRATIONS_DIR } from '@controlplane/server';

export interface MigrationsCopy {
  dir: string;
  add(file: string, sql: string): Promise<void>;
  edit(file: string, change: (sql: string) => string): Promise<void>;
  remove(): Promise<void>;
}

/** A scratch copy of packages/server/migrations for tests that add or alter migration files. */
export async function createMigrationsCopy(): Promise<MigrationsCopy> {
  const dir = await mkdtemp(join(tmpdir(), 'cp-migrations-'));
  await cp(fileURLToPath(DEFAULT_MIGRATIONS_DIR), dir, { recursive: true });
  return {
    dir,
    add: (file, sql) => writeFile(join(dir, file), sql),
    edit: async (file, change) => writeFile(join(dir, file), change(await readFile(join(dir, file), 'utf8'))),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
