import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  appliedMigrations,
  createPgliteDatabase,
  createPostgresDatabase,
  dumpSchema,
  migrate,
  readMigrations,
  SCHEMA_SNAPSHOT_FILE,
  type Database,
} from '@controlplane/server';
import { createMigrationsCopy } from '../../../test/support/migrations-copy.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  // Pools close before their database is dropped (drop fails on a leaked connection).
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function freshDatabase(): Promise<TestDatabase> {
  const testDb = await createTestDatabase();
  cleanups.push(() => testDb.drop());
  return testDb;
}

function pool(testDb: TestDatabase, applicationName: string): Database {
  const db = createPostgresDatabase({
    unscoped: 'system',
    connectionString: testDb.url,
    maxConnections: 2,
    applicationName,
    statementTimeoutMs: 5_000,
  });
  cleanups.push(() => db.close());
  return db;
}

describe('migrate on PostgreSQL', () => {
  it('applies each migration exactly once when two processes start at the same time', async () => {
    const testDb = await freshDatabase();
    const files = await readMigrations();
    expect(files.length).toBeGreaterThan(0);
    const [a, b] = [pool(testDb, 'replica-a'), pool(testDb, 'replica-b')];

    const results = await Promise.all([migrate(a), migrate(b)]);

    const appliedVersions = results.flatMap((r) => r.applied.map((m) => m.version)).sort((x, y) => x - y);
    expect(appliedVersions).toEqual(files.map((f) => f.version));
    const latest = files[files.length - 1]?.version;
    expect(results.map((r) => r.version)).toEqual([latest, latest]);
    const recorded = await appliedMigrations(a);
    expect(recorded.map((m) => [m.version, m.name, m.checksum])).toEqual(files.map((f) => [f.version, f.name, f.checksum]));
    expect(recorded.every((m) => m.appliedAt instanceof Date)).toBe(true);

    expect((await migrate(b)).applied).toEqual([]);
  });

  it('refuses to start when an applied migration file has changed', async () => {
    const testDb = await freshDatabase();
    const db = pool(testDb, 'checksum');
    const copy = await createMigrationsCopy();
    cleanups.push(copy.remove);
    await migrate(db, { dir: copy.dir });

    await copy.edit('001_init.sql', (sql) => `${sql}\n-- an edit after release\n`);
    await expect(migrate(db, { dir: copy.dir })).rejects.toMatchObject({ name: 'InternalError', code: 'CP_MIGRATION_CHECKSUM_MISMATCH' });
    await expect(migrate(db, { dir: copy.dir })).rejects.toThrow(/001_init\.sql was changed after it was applied/);
  });

  it('applies nothing when one pending migration fails', async () => {
    const testDb = await freshDatabase();
    const db = pool(testDb, 'failing');
    const copy = await createMigrationsCopy();
    cleanups.push(copy.remove);
    await copy.add('900_broken.sql', 'create table half_done (id int);\nselect no_such_function();');

    await expect(migrate(db, { dir: copy.dir })).rejects.toMatchObject({
      code: 'CP_MIGRATION_FAILED',
      message: expect.stringContaining('900_broken.sql'),
    });
    expect(await appliedMigrations(db)).toEqual([]);
    expect((await db.query(`select to_regclass('tenants') as t, to_regclass('half_done') as h`)).rows).toEqual([{ t: null, h: null }]);
  });

  it('refuses a database that has a migration this build does not know', async () => {
    const testDb = await freshDatabase();
    const db = pool(testDb, 'newer');
    await migrate(db);
    await db.query(`insert into schema_migrations (version, name, checksum) values (999, 'from_the_future', 'x')`);
    await expect(migrate(db)).rejects.toMatchObject({ code: 'CP_MIGRATION_UNKNOWN' });
  });

  it('produces the committed schema snapshot', async () => {
    const testDb = await freshDatabase();
    const db = pool(testDb, 'snapshot');
    await migrate(db);
    expect(await dumpSchema(db)).toBe(await readFile(SCHEMA_SNAPSHOT_FILE, 'utf8'));
  });

  it('describes RLS, policies, triggers, functions and types identically on PostgreSQL and PGlite', async () => {
    const copy = await createMigrationsCopy();
    cleanups.push(copy.remove);
    await copy.add(
      '900_features.sql',
      `create type fx_state as enum ('queued', 'running', 'done');
       create domain fx_percent as int check (value between 0 and 100);
       create sequence fx_seq start 100 increment 5;
       create table fx_items (
         seq bigint generated always as identity primary key,
         tenant_id text not null references tenants (id) on delete cascade,
         state fx_state not null default 'queued',
         progress fx_percent,
         payload jsonb not null default '{}',
         size int generated always as (octet_length(payload::text)) stored,
         updated_at timestamptz
       );
       create index fx_items_queued on fx_items (tenant_id, seq) where state = 'queued';
       alter table fx_items enable row level security;
       alter table fx_items force row level security;
       create policy fx_items_tenant on fx_items using (tenant_id = current_setting('app.tenant_id', true))
         with check (tenant_id = current_setting('app.tenant_id', true));
       create policy fx_items_no_delete on fx_items as restrictive for delete using (false);
       create function fx_touch_updated_at() returns trigger language plpgsql set search_path = public as $$
       begin
         new.updated_at := now();
         return new;
       end $$;
       create trigger fx_items_touch before update on fx_items for each row execute function fx_touch_updated_at();
       create view fx_queued as select seq, tenant_id from fx_items where state = 'queued';`,
    );
    const testDb = await freshDatabase();
    const pgDb = pool(testDb, 'features');
    const lite = await createPgliteDatabase();
    cleanups.push(() => lite.close());
    await migrate(pgDb, { dir: copy.dir });
    await migrate(lite, { dir: copy.dir });

    const fromPg = await dumpSchema(pgDb);
    expect(await dumpSchema(lite)).toBe(fromPg);
    for (const expected of [
      'TABLE fx_items (row level security: enabled, forced)',
      'COLUMN seq bigint NOT NULL GENERATED ALWAYS AS IDENTITY',
      'COLUMN state fx_state NOT NULL DEFAULT',
      'COLUMN size integer GENERATED ALWAYS AS',
      'CONSTRAINT fx_items_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id) ON DELETE CASCADE',
      'INDEX fx_items_queued CREATE INDEX fx_items_queued ON public.fx_items USING btree (tenant_id, seq) WHERE',
      'TRIGGER fx_items_touch CREATE TRIGGER fx_items_touch BEFORE UPDATE ON',
      'POLICY fx_items_no_delete AS RESTRICTIVE FOR DELETE TO public USING (false)',
      'POLICY fx_items_tenant AS PERMISSIVE FOR ALL TO public USING',
      'VIEW fx_queued',
      'SEQUENCE fx_seq AS bigint START 100 INCREMENT 5',
      "TYPE fx_state AS ENUM ('queued', 'running', 'done')",
      'DOMAIN fx_percent AS integer CHECK',
      'FUNCTION fx_touch_updated_at() RETURNS trigger LANGUAGE plpgsql VOLATILE SET search_path=public',
    ]) {
      expect(fromPg).toContain(expected);
    }
  });

  it('creates tenants with the id format and status enforced', async () => {
    const testDb = await freshDatabase();
    const db = pool(testDb, 'tenants');
    await migrate(db);
    const { rows } = await db.query<{ status: string; created_at: Date }>(
      `insert into tenants (id, name) values ('acme-1', 'Acme') returning status, created_at`,
    );
    expect(rows[0]?.status).toBe('active');
    expect(rows[0]?.created_at).toBeInstanceOf(Date);
    for (const id of ['Acme', '-acme', 'a:b', 'a'.repeat(64), '']) {
      await expect(db.query('insert into tenants (id, name) values ($1, $2)', [id, 'x'])).rejects.toMatchObject({ code: '23514' });
    }
    await expect(db.query(`insert into tenants (id, name, status) values ('t2', 'x', 'deleted')`)).rejects.toMatchObject({ code: '23514' });
    expect((await db.query(`insert into tenants (id, name) values ($1, 'x')`, ['a'.repeat(63)])).rowCount).toBe(1);
  });
});
