import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, refreshTableStatistics, type Database } from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { describeSqlPortContract } from '../../../test/support/sql-port-contract.js';

let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase();
});

afterAll(async () => {
  // drop() fails if a pool left a connection open; no socket of any kind may remain either.
  await testDb?.drop();
  expect(process.getActiveResourcesInfo()).not.toContain('TCPSocketWrap');
});

describeSqlPortContract('PostgreSQL', async () =>
  createPostgresDatabase({ unscoped: 'system', connectionString: testDb.url, maxConnections: 4, applicationName: 'storage-contract' }),
);

describe('PostgreSQL adapter', () => {
  let db: Database;
  const poolErrors: Error[] = [];

  beforeAll(() => {
    db = createPostgresDatabase({
      connectionString: testDb.url,
      maxConnections: 2,
      applicationName: 'storage-pg-adapter',
      statementTimeoutMs: 500,
      onError: (err) => poolErrors.push(err),
    });
  });

  afterAll(async () => {
    await db?.close();
  });

  const terminateOthers = (admin: Database) =>
    admin.query<{ n: string }>(
      `select count(*) filter (where pg_terminate_backend(pid)) as n from pg_stat_activity
        where datname = current_database() and application_name = 'storage-pg-adapter' and pid <> pg_backend_pid()`,
    );

  it('is kind postgres and applies statementTimeoutMs', async () => {
    expect(db.kind).toBe('postgres');
    await expect(db.query('select pg_sleep(2)')).rejects.toMatchObject({ code: '57014' });
  });

  it('survives a server-side kill of idle pooled connections', async () => {
    await Promise.all([db.query('select pg_sleep(0.05)'), db.query('select pg_sleep(0.05)')]);
    const admin = createPostgresDatabase({
      unscoped: 'system',
      connectionString: testDb.url,
      maxConnections: 1,
      applicationName: 'storage-pg-admin',
    });
    let killed: number;
    try {
      killed = Number((await terminateOthers(admin)).rows[0]?.n);
    } finally {
      await admin.close();
    }
    expect(killed).toBe(2);
    // Each killed idle connection reports once; until it has, the pool could still hand it out.
    for (let i = 0; i < 500 && poolErrors.length < killed; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(poolErrors).toHaveLength(killed);
    expect(poolErrors.every((e) => (e as Error & { code?: string }).code === '57P01')).toBe(true);
    expect((await db.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
  });

  it('fails a transaction whose connection dies and keeps working afterwards', async () => {
    const admin = createPostgresDatabase({
      unscoped: 'system',
      connectionString: testDb.url,
      maxConnections: 1,
      applicationName: 'storage-pg-admin',
    });
    try {
      const attempt = db.transaction(async (tx) => {
        await tx.query('select 1');
        await terminateOthers(admin);
        await tx.query('select 2');
      });
      await expect(attempt).rejects.toThrow();
    } finally {
      await admin.close();
    }
    expect((await db.query('select 1 as ok')).rows).toEqual([{ ok: 1 }]);
    expect((await db.transaction((tx) => tx.query('select 2 as ok'))).rows).toEqual([{ ok: 2 }]);
  });

  it('prepares each parameterised text once per connection and keeps working when a migration changes its result', async () => {
    const own = createPostgresDatabase({
      unscoped: 'system',
      connectionString: testDb.url,
      maxConnections: 1,
      applicationName: 'storage-pg-prepared',
    });
    try {
      await own.query('create table prepared_probe (id int primary key, a text)');
      await own.query(`insert into prepared_probe values (1, 'x')`);
      const text = 'select * from prepared_probe where id = $1';
      for (let i = 0; i < 3; i++) expect((await own.query(text, [1])).rows).toEqual([{ id: 1, a: 'x' }]);
      const prepared = await own.query<{ name: string; statement: string }>(
        `select name, statement from pg_prepared_statements where statement = $1`,
        [text],
      );
      expect(prepared.rows).toHaveLength(1);
      expect(prepared.rows[0]!.name).toMatch(/^cp_/);
      // The prepared plan's result has two columns; after this it would have three and
      // PostgreSQL refuses to run it ("cached plan must not change result type").
      await own.query(`alter table prepared_probe add column b text default 'y'`);
      expect((await own.query(text, [1])).rows).toEqual([{ id: 1, a: 'x', b: 'y' }]);
      expect((await own.query(text, [1])).rows).toEqual([{ id: 1, a: 'x', b: 'y' }]);
      // Inside a transaction the same text runs too, and errors still reach the caller as they are.
      await own.transaction(async (tx) => expect((await tx.query(text, [1])).rows).toHaveLength(1));
      await expect(own.query('select * from prepared_probe where id = $1::int', ['nope'])).rejects.toMatchObject({ code: '22P02' });
    } finally {
      await own.query('drop table if exists prepared_probe');
      await own.close();
    }
  });

  it('refreshes planner statistics where autovacuum does not, one replica at a time', async () => {
    const own = createPostgresDatabase({
      unscoped: 'system',
      connectionString: testDb.url,
      maxConnections: 2,
      applicationName: 'storage-pg-stats',
    });
    try {
      await own.query('create table churn (id int primary key, tenant text)');
      await own.query(`insert into churn select g, 't1' from generate_series(1, 2000) g`);
      const autovacuum = (await own.query<{ on: boolean }>(`select current_setting('autovacuum')::boolean as on`)).rows[0]!.on;
      if (autovacuum) {
        expect(await refreshTableStatistics(own, ['churn'])).toEqual({ analyzed: [], skipped: 'autovacuum' });
        return;
      }
      // Another replica refreshing right now: this one leaves it to that one.
      const other = createPostgresDatabase({
        unscoped: 'system',
        connectionString: testDb.url,
        maxConnections: 1,
        applicationName: 'storage-pg-stats-other',
      });
      try {
        await other.transaction(async (tx) => {
          await tx.query(`select pg_advisory_xact_lock($1::bigint)`, [0x6370_7374_6174_73n.toString()]);
          expect(await refreshTableStatistics(own, ['churn'])).toEqual({ analyzed: [], skipped: 'locked' });
        });
      } finally {
        await other.close();
      }
      let analyzed: string[] = [];
      for (let i = 0; i < 50 && analyzed.length === 0; i++) {
        analyzed = (await refreshTableStatistics(own, ['churn'])).analyzed;
        if (analyzed.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(analyzed).toEqual(['churn']);
      expect((await refreshTableStatistics(own, ['churn'])).analyzed).toEqual([]);
    } finally {
      await own.query('drop table if exists churn');
      await own.close();
    }
  });
});
