// Tenants and quotas on real PostgreSQL: partial quota updates, and checkJobQuota holding its limit
// when submissions race in concurrent transactions (as JobForge's submit path will call it).
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '@controlplane/contracts';
import {
  checkJobQuota,
  createApiKey,
  createPostgresDatabase,
  createTenant,
  getTenantQuotas,
  listApiKeys,
  migrate,
  putTenantQuotas,
  revokeApiKey,
  runningJobHeadroom,
  type Database,
  type Sql,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';

async function insertJob(sql: Sql, tenant: string, status = 'queued'): Promise<void> {
  const running = status === 'running';
  await sql.query(
    `insert into jobs (tenant_id, id, type, pool, priority, status, request, request_digest, run_at, timeout_ms, lease_id)
     values ($1, $2, 'echo', 'default', 50, $3, '{}', 'x', now(), 1000, $4)`,
    [tenant, randomUUID(), status, running ? randomUUID() : null],
  );
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return (err as AppError).code;
  }
}

describe('tenancy on PostgreSQL', () => {
  let tdb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 6 });
    await migrate(db);
    await createTenant(db, { id: 'q1', name: 'Quota one' });
    await createTenant(db, { id: 'q2', name: 'Quota two' });
  });
  afterAll(async () => {
    await db?.close();
    await tdb?.drop();
  });

  it('reserves the system tenant and refuses duplicate or malformed tenant ids', async () => {
    expect(await codeOf(createTenant(db, { id: 'system', name: 'again' }))).toBe('RESOURCE_CONFLICT');
    expect(await codeOf(createTenant(db, { id: 'q1', name: 'again' }))).toBe('RESOURCE_CONFLICT');
    expect(await codeOf(createTenant(db, { id: 'Bad:Id', name: 'x' }))).toBe('VALIDATION_FAILED');
  });

  it('updates only the quota fields given and clears one with null', async () => {
    expect(await getTenantQuotas(db, 'q2')).toMatchObject({ maxQueuedJobs: null, maxPayloadBytes: null });
    await putTenantQuotas(db, 'q2', { maxQueuedJobs: 5, maxPayloadBytes: 1000 }, 'apikey:x');
    const after = await putTenantQuotas(db, 'q2', { maxRunningJobs: 2, maxPayloadBytes: null }, 'apikey:y');
    expect(after).toMatchObject({ maxQueuedJobs: 5, maxRunningJobs: 2, maxPayloadBytes: null, updatedBy: 'apikey:y' });
    expect(await codeOf(putTenantQuotas(db, 'nope', { maxQueuedJobs: 1 }, null))).toBe('RESOURCE_NOT_FOUND');
  });

  it('counts waiting jobs, refuses the one that would pass the limit, and checks payload size', async () => {
    await putTenantQuotas(db, 'q1', { maxQueuedJobs: 3, maxPayloadBytes: 100 }, null);
    await insertJob(db, 'q1');
    await insertJob(db, 'q1', 'running'); // running jobs do not count against the queued quota
    await insertJob(db, 'q1', 'completed');
    await expect(checkJobQuota(db, 'q1', 2, 10)).resolves.toBeUndefined();
    expect(await codeOf(checkJobQuota(db, 'q1', 3, 10))).toBe('QUOTA_EXCEEDED');
    const tooBig = await checkJobQuota(db, 'q1', 1, 101).catch((e: AppError) => e);
    expect(tooBig).toMatchObject({ code: 'QUOTA_EXCEEDED', retryable: false });
    // Another tenant's jobs and a tenant without quotas are not affected.
    await expect(checkJobQuota(db, 'q2', 1_000, 10)).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
    await expect(checkJobQuota(db, 'system', 1_000_000, 1_000_000)).resolves.toBeUndefined();
  });

  it('serialises concurrent submissions of one tenant so they cannot overshoot together', async () => {
    await createTenant(db, { id: 'race', name: 'Race' });
    await putTenantQuotas(db, 'race', { maxQueuedJobs: 1 }, null);
    const outcomes = await Promise.allSettled(
      [0, 1, 2].map(() =>
        db.transaction(async (tx) => {
          await checkJobQuota(tx, 'race', 1, 10);
          await sleep(100); // widen the window between counting and inserting
          await insertJob(tx, 'race');
        }),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(refused.map((r) => (r.reason as AppError).code)).toEqual(['QUOTA_EXCEEDED', 'QUOTA_EXCEEDED']);
    const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from jobs where tenant_id = 'race'`);
    expect(rows[0]!.n).toBe(1);
  });

  it('tells JobForge how many more jobs a tenant may run', async () => {
    await createTenant(db, { id: 'run', name: 'Run' });
    expect(await runningJobHeadroom(db, 'run')).toBe(Infinity);
    await putTenantQuotas(db, 'run', { maxRunningJobs: 2 }, null);
    await insertJob(db, 'run', 'running');
    expect(await runningJobHeadroom(db, 'run')).toBe(1);
    await insertJob(db, 'run', 'running');
    await insertJob(db, 'run', 'running');
    expect(await runningJobHeadroom(db, 'run')).toBe(0);
  });

  it('stores only a hash of API keys and scopes revocation to the tenant', async () => {
    const k = await createApiKey(db, { tenantId: 'q1', role: 'viewer', name: 'hashed' });
    const { rows } = await db.query<Record<string, unknown>>('select * from api_keys where id = $1', [k.id]);
    expect(JSON.stringify(rows[0])).not.toContain(k.key.split('_')[2]!);
    expect(String(rows[0]!.signing_public_key)).toContain('BEGIN PUBLIC KEY');
    expect(k.signingPrivateKeyPem).toContain('BEGIN PRIVATE KEY');
    expect(await codeOf(revokeApiKey(db, 'q2', k.id))).toBe('RESOURCE_NOT_FOUND');
    expect((await listApiKeys(db, 'q1', { limit: 10 })).find((x) => x.id === k.id)?.revokedAt).toBeNull();
    const revoked = await revokeApiKey(db, 'q1', k.id);
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect((await revokeApiKey(db, null, k.id)).revokedAt!.getTime()).toBe(revoked.revokedAt!.getTime());
    expect(await codeOf(createApiKey(db, { tenantId: 'missing', role: 'viewer', name: 'x' }))).toBe('RESOURCE_NOT_FOUND');
  });
});
