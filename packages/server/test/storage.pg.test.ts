import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, type Database } from '@controlplane/server';
import { createTestDatabase, describeSqlPortContract, type TestDatabase } from '../../../test/support/postgres.js';

let testDb: TestDatabase;

beforeAll(async () => {
  testDb = await createTestDatabase();
});

afterAll(async () => {
  // drop() fails if a pool left a connection open; no socket of any kind may remain either.
  await testDb?.drop();
  expect(process.getActiveResourcesInfo()).not.toContain('TCPSocketWrap');
});

describeSqlPortContract('PostgreSQL', async () => createPostgresDatabase({ unscoped: 'system', connectionString: testDb.url, maxConnections: 4, applicationName: 'storage-contract' }));

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
    const admin = createPostgresDatabase({ unscoped: 'system', connectionString: testDb.url, maxConnections: 1, applicationName: 'storage-pg-admin' });
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
    const admin = createPostgresDatabase({ unscoped: 'system', connectionString: testDb.url, maxConnections: 1, applicationName: 'storage-pg-admin' });
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
});
