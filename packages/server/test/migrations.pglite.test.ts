import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { appliedMigrations, createPgliteDatabase, dumpSchema, migrate, readMigrations, SCHEMA_SNAPSHOT_FILE } from '@controlplane/server';
import { createMigrationsCopy } from '../../../test/support/migrations-copy.js';

describe('migrate on PGlite', () => {
  it('applies every migration once, records it, and is a no-op the second time', async () => {
    const db = await createPgliteDatabase();
    try {
      const files = await readMigrations();
      const first = await migrate(db);
      expect(first.applied.map((m) => m.version)).toEqual(files.map((f) => f.version));
      const second = await migrate(db);
      expect(second.applied).toEqual([]);
      expect(second.version).toBe(first.version);
      expect((await appliedMigrations(db)).map((m) => [m.version, m.checksum])).toEqual(files.map((f) => [f.version, f.checksum]));
    } finally {
      await db.close();
    }
  });

  it('refuses a changed migration and applies a new one', async () => {
    const db = await createPgliteDatabase();
    const copy = await createMigrationsCopy();
    try {
      await migrate(db, { dir: copy.dir });
      await copy.add('900_extra.sql', 'create table extra (id int);');
      expect((await migrate(db, { dir: copy.dir })).applied.map((m) => m.file)).toEqual(['900_extra.sql']);
      await copy.edit('900_extra.sql', (sql) => sql.replace('id int', 'id bigint'));
      await expect(migrate(db, { dir: copy.dir })).rejects.toMatchObject({ code: 'CP_MIGRATION_CHECKSUM_MISMATCH' });
    } finally {
      await copy.remove();
      await db.close();
    }
  });

  it('rejects badly named or duplicate migration files', async () => {
    const copy = await createMigrationsCopy();
    try {
      await copy.add('2_Bad-Name.sql', 'select 1;');
      await expect(readMigrations(copy.dir)).rejects.toMatchObject({ code: 'CP_MIGRATION_FILE_NAME_INVALID' });
    } finally {
      await copy.remove();
    }
    const dup = await createMigrationsCopy();
    try {
      await dup.add('0001_again.sql', 'select 1;');
      await expect(readMigrations(dup.dir)).rejects.toThrow(/share version 1/);
    } finally {
      await dup.remove();
    }
  });

  it('produces the committed schema snapshot', async () => {
    const db = await createPgliteDatabase();
    try {
      await migrate(db);
      expect(await dumpSchema(db)).toBe(await readFile(SCHEMA_SNAPSHOT_FILE, 'utf8'));
    } finally {
      await db.close();
    }
  });
});
