// Row-level security on every tenant table, attacked directly: a connection as the service role
// with no tenant set reads nothing and writes nothing; one with a tenant set sees only that
// tenant; forgetting the tenant filter in a query does not leak the other tenant's rows; and the
// services' own code paths (a request, a duty) see exactly what their scope allows.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendAuditEvent, asSystem, createPostgresDatabase, migrate, withTenant, type Database } from '@controlplane/server';
import { createTestDatabase, TEST_SERVICE_ROLE, type TestDatabase } from '../../../test/support/postgres.js';

const TENANTS = ['acme', 'globex'] as const;

// Every table that holds a tenant's rows. A new one must be added here — and get a policy: the
// first test fails for a table with a tenant_id column that is missing from this list.
const TENANT_TABLES = [
  'api_keys',
  'audit_events',
  'concurrency_slots',
  'data_key_current',
  'data_keys',
  'job_attempts',
  'job_dependencies',
  'job_events',
  'job_types',
  'jobs',
  'join_tokens',
  'result_outbox',
  'runner_certificates',
  'runners',
  'schedules',
  'tenant_quotas',
  'tenants',
  'truth_assertions',
  'truth_job_provenance',
  'ui_sessions',
] as const;

const hex = (n: number, c: string) => c.repeat(n);

/** One row per tenant table for `t`, written as the superuser (who bypasses the policies). */
async function seedTenant(admin: pg.Client, t: string, i: number): Promise<void> {
  const job = randomUUID();
  const runner = `runner-${t}`;
  await admin.query(
    `insert into tenants (id, name) values ($1, $1);
     insert into tenant_quotas (tenant_id, max_queued_jobs) values ($1, 10);`.replaceAll('$1', `'${t}'`),
  );
  const keyId = randomUUID();
  await admin.query(
    `insert into api_keys (id, tenant_id, prefix, secret_hash, role, name, signing_public_key) values ($1, $2, $3, $4, 'admin', 'k', 'pem')`,
    [keyId, t, hex(16, String(i)), Buffer.alloc(32, i)],
  );
  await admin.query(`insert into ui_sessions (token_hash, key_id, tenant_id, expires_at) values ($1, $2, $3, now() + interval '1 hour')`, [
    Buffer.alloc(32, i),
    keyId,
    t,
  ]);
  await admin.query(`insert into job_types (tenant_id, type) values ($1, 'echo')`, [t]);
  await admin.query(`insert into concurrency_slots (tenant_id, type, key) values ($1, 'echo', 'k')`, [t]);
  await admin.query(
    `insert into schedules (tenant_id, id, name, template, cron, overlap, catch_up) values ($1, $2, 's', '{}', '* * * * *', 'allow', 'skip')`,
    [t, randomUUID()],
  );
  await admin.query(
    `insert into jobs (tenant_id, id, type, pool, priority, status, request, request_digest, run_at, timeout_ms)
     values ($1, $2, 'echo', 'default', 50, 'queued', '{}', $3, now(), 1000)`,
    [t, job, hex(64, 'a')],
  );
  await admin.query(`insert into job_events (id, tenant_id, job_id, type) values ($1, $2, $3, 'job.queued')`, [randomUUID(), t, job]);
  const kid = randomUUID();
  await admin.query(
    `insert into jobs (tenant_id, id, type, pool, priority, status, request, request_digest, run_at, timeout_ms)
     values ($1, $2, 'echo', 'default', 50, 'pending', '{}', $3, now(), 1000)`,
    [t, kid, hex(64, 'b')],
  );
  await admin.query(`insert into job_dependencies (tenant_id, child_id, parent_id, policy) values ($1, $2, $3, 'fail')`, [t, kid, job]);
  await admin.query(`insert into runners (id, tenant_id, pool, name) values ($1, $2, 'default', 'r')`, [runner, t]);
  await admin.query(
    `insert into job_attempts (tenant_id, job_id, attempt, runner_id, lease_id, fencing_token, started_at) values ($1, $2, 1, $3, $4, $5, now())`,
    [t, job, runner, randomUUID(), i],
  );
  await admin.query(
    `insert into runner_certificates (serial_number, runner_id, fingerprint256, certificate_pem, not_after) values ($1, $2, 'fp', 'pem', now() + interval '1 day')`,
    [`serial-${t}`, runner],
  );
  await admin.query(
    `insert into join_tokens (id, tenant_id, pool, token_hash, expires_at) values ($1, $2, 'default', $3, now() + interval '1 hour')`,
    [randomUUID(), t, hex(64, String(i))],
  );
  await admin.query(
    `insert into result_outbox (tenant_id, job_id, attempt, fencing_token, runner_id, cert_fingerprint, signature) values ($1, $2, 1, 1, $3, 'fp', 'sig')`,
    [t, job, runner],
  );
  await admin.query(`insert into data_keys (tenant_id, id, kek_id, wrapped) values ($1, 'dk1', 'kek1', '\\x01')`, [t]);
  await admin.query(`insert into data_key_current (tenant_id, key_id) values ($1, 'dk1')`, [t]);
  await admin.query(
    `insert into truth_assertions (tenant_id, id, subject, predicate, object, object_hash, confidence, source, asserted_at, asserted_by)
     values ($1, $2, 's', 'p', '"o"', $3, 1, 'src', date_trunc('milliseconds', now()), 'me')`,
    [t, randomUUID(), Buffer.alloc(32, i)],
  );
  await admin.query(
    `insert into truth_job_provenance (tenant_id, job_id, attempt, fencing_token, outcome, submitted_by, request_digest, result, result_digest,
                                       runner_id, runner_spiffe_id, runner_cert_serial, runner_cert_fingerprint, runner_cert_pem, signature, recorded_by)
     values ($1, $2, 1, '1', 'completed', 'apikey:x', $3, '{}', $3, $4, 'spiffe://x/runner/r', 's', 'fp', 'pem', 'sig', 'jobforge')`,
    [t, job, hex(64, 'b'), runner],
  );
  await admin.query(
    `insert into audit_events (seq, id, occurred_at, tenant_id, actor_kind, actor_id, action, outcome, details, prev_hash, hash)
     values ($1, $2, now(), $3, 'apikey', 'k', 'job.submitted', 'success', '{}', $4, $4)`,
    [i, randomUUID(), t, hex(64, String(i))],
  );
}

describe('row-level security (PostgreSQL, as the service role)', () => {
  let tdb: TestDatabase;
  let admin: pg.Client;
  let raw: pg.Client;
  let db: Database;

  const count = async (client: pg.Client, table: string) =>
    Number((await client.query<{ n: string }>(`select count(*) as n from ${table}`)).rows[0]!.n);

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = createPostgresDatabase({ connectionString: tdb.url, maxConnections: 4, applicationName: 'rls-service' });
    await migrate(db);
    admin = new pg.Client({ connectionString: tdb.adminUrl, application_name: 'rls-admin' });
    await admin.connect();
    for (const [i, t] of TENANTS.entries()) await seedTenant(admin, t, i + 1);
    // A plain connection as the service role, exactly as an operator's psql or a leaked pool would be.
    raw = new pg.Client({ connectionString: tdb.url, application_name: 'rls-raw' });
    await raw.connect();
  });

  afterAll(async () => {
    await raw?.end();
    await admin?.end();
    await db?.close();
    await tdb?.drop();
  });

  it('covers every table with a tenant column, forced on the owner too, and the service role cannot bypass it', async () => {
    const { rows } = await admin.query<{ table: string; rls: boolean; forced: boolean }>(
      `select c.relname as table, c.relrowsecurity as rls, c.relforcerowsecurity as forced
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind = 'r'
          and (exists (select 1 from information_schema.columns k where k.table_schema = 'public' and k.table_name = c.relname and k.column_name = 'tenant_id')
               or c.relname = any($1))
        order by 1`,
      [TENANT_TABLES],
    );
    expect(rows.map((r) => r.table)).toEqual([...TENANT_TABLES].sort());
    expect(rows.filter((r) => !r.rls || !r.forced)).toEqual([]);
    const role = await admin.query<{ rolsuper: boolean; rolbypassrls: boolean }>(
      `select rolsuper, rolbypassrls from pg_roles where rolname = $1`,
      [TEST_SERVICE_ROLE],
    );
    expect(role.rows).toEqual([{ rolsuper: false, rolbypassrls: false }]);
    // The seed is really there: the superuser sees both tenants everywhere.
    for (const table of TENANT_TABLES) expect(await count(admin, table), table).toBeGreaterThanOrEqual(2);
  });

  it('a connection with no tenant set reads zero rows from every tenant table', async () => {
    for (const table of TENANT_TABLES) expect(await count(raw, table), table).toBe(0);
  });

  it('and can write none: inserts are refused, updates and deletes touch nothing', async () => {
    await expect(raw.query(`insert into tenants (id, name) values ('intruder', 'x')`)).rejects.toMatchObject({
      code: '42501',
      message: expect.stringContaining('row-level security'),
    });
    await expect(raw.query(`insert into job_types (tenant_id, type) values ('acme', 'evil')`)).rejects.toMatchObject({ code: '42501' });
    expect((await raw.query(`update jobs set priority = 1`)).rowCount).toBe(0);
    expect((await raw.query(`delete from job_types`)).rowCount).toBe(0);
    expect(await count(admin, 'job_types')).toBe(2);
  });

  it('with a tenant set, a query that forgets its tenant filter still sees only that tenant', async () => {
    await raw.query(`select set_config('app.tenant_id', 'acme', false)`);
    try {
      // Each tenant has one row per table, and two jobs (a parent and its child in a flow).
      for (const table of TENANT_TABLES) expect(await count(raw, table), table).toBe(table === 'jobs' ? 2 : 1);
      const tenants = (await raw.query<{ tenant_id: string }>(`select distinct tenant_id from jobs`)).rows;
      expect(tenants).toEqual([{ tenant_id: 'acme' }]);
      // Writing into another tenant is refused; updating another tenant's rows touches nothing.
      await expect(raw.query(`insert into job_types (tenant_id, type) values ('globex', 'evil')`)).rejects.toMatchObject({ code: '42501' });
      expect((await raw.query(`update jobs set priority = 1 where tenant_id = 'globex'`)).rowCount).toBe(0);
      // Audit events of no tenant are the system's, not any tenant's.
      await admin.query(
        `insert into audit_events (seq, id, occurred_at, tenant_id, actor_kind, actor_id, action, outcome, details, prev_hash, hash)
         values (3, $1, now(), null, 'system', 'jobforge', 'service.started', 'success', '{}', $2, $2)`,
        [randomUUID(), hex(64, '3')],
      );
      expect(await count(raw, 'audit_events')).toBe(1);
    } finally {
      await raw.query(`select set_config('app.tenant_id', '', false)`);
    }
  });

  it('an audit event appended in a tenant scope extends the one global chain, and the scope is restored', async () => {
    const head = (await admin.query<{ seq: string; hash: string }>('select seq::text, hash from audit_events order by seq desc limit 1'))
      .rows[0]!;
    // The newest event is not globex's: globex's scope cannot see it, yet the append must chain onto it.
    expect((await withTenant('globex', () => db.query(`select 1 from audit_events where seq = $1::bigint`, [head.seq]))).rowCount).toBe(0);
    const { record, seen } = await withTenant('globex', () =>
      db.transaction(async (tx) => {
        const record = await appendAuditEvent(tx, {
          tenantId: 'globex',
          actor: { kind: 'apikey', id: 'k' },
          action: 'job.submitted',
          outcome: 'success',
        });
        const seen = (await tx.query<{ tenant_id: string }>('select distinct tenant_id from jobs')).rows;
        return { record, seen };
      }),
    );
    expect(record.seq).toBe(String(Number(head.seq) + 1));
    expect(record.prevHash).toBe(head.hash);
    // After the append the transaction is back in globex's scope.
    expect(seen).toEqual([{ tenant_id: 'globex' }]);
  });

  it('the adapter applies the data scope: none outside any scope, one tenant in withTenant, all in asSystem', async () => {
    expect((await db.query<{ n: string }>('select count(*) as n from jobs')).rows[0]!.n).toBe('0');
    const inAcme = await withTenant('acme', () => db.query<{ tenant_id: string }>('select distinct tenant_id from jobs'));
    expect(inAcme.rows).toEqual([{ tenant_id: 'acme' }]);
    const inGlobexTx = await withTenant('globex', () =>
      db.transaction(async (tx) => (await tx.query<{ tenant_id: string }>('select tenant_id from runners')).rows),
    );
    expect(inGlobexTx).toEqual([{ tenant_id: 'globex' }]);
    const all = await asSystem('test', () => db.query<{ n: string }>('select count(*) as n from jobs'));
    expect(all.rows[0]!.n).toBe('4'); // two tenants, each a parent and its child;
    // Pooled connections carry the settings: interleaved scopes never see each other's rows.
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, k) => {
        const t = TENANTS[k % 2]!;
        return withTenant(t, async () =>
          (await db.query<{ tenant_id: string }>('select tenant_id from job_events')).rows.map((r) => r.tenant_id),
        );
      }),
    );
    results.forEach((rows, k) => expect(rows).toEqual([TENANTS[k % 2]]));
    expect((await db.query<{ n: string }>('select count(*) as n from job_events')).rows[0]!.n).toBe('0');
  });
});
