import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InternalError } from '@controlplane/contracts';
import type { Database } from './sql-port.js';
import { asSystem } from './data-scope.js';

/** src/storage/ and dist/storage/ are both two levels below the package root. */
export const DEFAULT_MIGRATIONS_DIR = new URL('../../migrations/', import.meta.url);

export interface MigrationFile {
  version: number;
  name: string;
  file: string;
  checksum: string;
  sql: string;
}

export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
  appliedAt: Date;
}

export interface MigrateOptions {
  dir?: string | URL;
}

export interface MigrateResult {
  /** Migrations this call applied, in order (empty when the database was up to date). */
  applied: MigrationFile[];
  /** The highest version now applied. */
  version: number;
}

const FILE_PATTERN = /^(\d+)_([a-z0-9_]+)\.sql$/;

// One constant for every ControlPlane process: "cpmigr" in ASCII, well away from small ids other
// code might pick for its own advisory locks.
const MIGRATION_LOCK_KEY = '109334523111282';

function checksum(sql: string): string {
  // Line endings are normalised so a Windows checkout (core.autocrlf) does not look like an edit.
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

function toPath(dir: string | URL): string {
  return dir instanceof URL ? fileURLToPath(dir) : dir;
}

/** The migration files of `dir`, ordered by version. Other files (the schema snapshot) are ignored. */
export async function readMigrations(dir: string | URL = DEFAULT_MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const path = toPath(dir);
  const migrations: MigrationFile[] = [];
  for (const file of (await readdir(path)).sort()) {
    const match = FILE_PATTERN.exec(file);
    if (!match) {
      if (/^\d/.test(file)) {
        throw new InternalError('CP_MIGRATION_FILE_NAME_INVALID', { params: { file, dir: path } });
      }
      continue;
    }
    const sql = await readFile(join(path, file), 'utf8');
    migrations.push({ version: Number(match[1]), name: match[2] ?? '', file, checksum: checksum(sql), sql });
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    const [prev, cur] = [migrations[i - 1], migrations[i]];
    if (prev && cur && prev.version === cur.version) {
      throw new InternalError('CP_MIGRATION_VERSION_DUPLICATED', { params: { first: prev.file, second: cur.file, version: cur.version } });
    }
  }
  return migrations;
}

/**
 * Applies pending migrations in order, all in one transaction holding a transaction-level advisory
 * lock: a second process starting at the same moment waits for the lock, then (read committed, so
 * its next statement sees the first one's commit) finds nothing left to do. Refuses to start when
 * an applied migration's file has changed, or when the database has a migration this build lacks.
 * Migrations therefore cannot use statements that refuse to run in a transaction
 * (CREATE INDEX CONCURRENTLY, ALTER TYPE … ADD VALUE before PostgreSQL 12).
 */
export async function migrate(db: Database, options: MigrateOptions = {}): Promise<MigrateResult> {
  return asSystem('apply migrations', async () => {
    const files = await readMigrations(options.dir ?? DEFAULT_MIGRATIONS_DIR);
    return db.transaction(
      async (tx) => {
        await tx.query(`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
        // Created under the lock: two concurrent CREATE TABLE IF NOT EXISTS can still collide.
        await tx.query(`create table if not exists schema_migrations (
          version integer primary key,
          name text not null,
          checksum text not null,
          applied_at timestamptz not null default now()
        )`);
        const { rows } = await tx.query<{ version: number; name: string; checksum: string }>(
          'select version, name, checksum from schema_migrations order by version',
        );
        const byVersion = new Map(files.map((f) => [f.version, f]));
        for (const row of rows) {
          const file = byVersion.get(row.version);
          if (!file) {
            throw new InternalError('CP_MIGRATION_UNKNOWN', { params: { version: row.version, name: row.name } });
          }
          if (file.checksum !== row.checksum) {
            throw new InternalError('CP_MIGRATION_CHECKSUM_MISMATCH', {
              params: { file: file.file, applied: row.checksum.slice(0, 12), onDisk: file.checksum.slice(0, 12) },
            });
          }
        }
        const done = new Set(rows.map((r) => r.version));
        const applied: MigrationFile[] = [];
        for (const file of files) {
          if (done.has(file.version)) continue;
          try {
            await tx.query(file.sql);
          } catch (err) {
            const detail = err instanceof Error ? err.message : String(err);
            throw new InternalError('CP_MIGRATION_FAILED', { params: { file: file.file, reason: detail }, cause: err });
          }
          await tx.query('insert into schema_migrations (version, name, checksum) values ($1, $2, $3)', [
            file.version,
            file.name,
            file.checksum,
          ]);
          applied.push(file);
        }
        const version = Math.max(0, ...done, ...applied.map((f) => f.version));
        return { applied, version };
      },
      {
        isolation: 'read committed',
        // Waiting for another replica's lock or building an index may outlast the request-sized
        // statement timeout the pool was configured with.
        settings: { statement_timeout: '0' },
      },
    );
  });
}

/** What schema_migrations records, oldest first (empty when migrate has never run). */
export async function appliedMigrations(db: Database): Promise<AppliedMigration[]> {
  const exists = await db.query<{ present: boolean }>(`select to_regclass('schema_migrations') is not null as present`);
  if (!exists.rows[0]?.present) return [];
  const { rows } = await db.query<{ version: number; name: string; checksum: string; applied_at: Date }>(
    'select version, name, checksum, applied_at from schema_migrations order by version',
  );
  return rows.map((r) => ({ version: r.version, name: r.name, checksum: r.checksum, appliedAt: r.applied_at }));
}
