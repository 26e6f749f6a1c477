// Two JobForge replicas — separate connection pools and Redis connections, shared PostgreSQL and
// Redis — with concurrent claimers on each and both running their periodic duties: no job is
// leased twice at once and every job is recorded exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@controlplane/platform';
import {
  createPostgresDatabase,
  JobLifecycle,
  JobStore,
  JobTypeRegistry,
  migrate,
  RedisQueue,
  startDuties,
  type Database,
  type RunnerIdentity,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { createTestRedis, type TestRedis } from '../../../test/support/redis.js';
import { job, seedTenants } from './support/queue-conformance.js';

const logger = createLogger({ service: 'test', level: 'silent' });

describe('two JobForge replicas', () => {
  let tdb: TestDatabase;
  let redis: TestRedis;
  const dbs: Database[] = [];
  const replicas: Array<{ svc: JobLifecycle; queue: RedisQueue; stop: () => Promise<void> }> = [];

  beforeAll(async () => {
    tdb = await createTestDatabase();
    redis = await createTestRedis();
    for (let i = 0; i < 2; i++) {
      const db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 6 });
      dbs.push(db);
      if (i === 0) {
        await migrate(db);
        await seedTenants(db);
      }
      const store = new JobStore(db);
      const queue = new RedisQueue({
        redis: await redis.connect(),
        keys: redis.keys,
        db,
        store,
        logger,
        subscriber: await redis.connect(),
      });
      await queue.start();
      const svc = new JobLifecycle({ db, store, queue, jobTypes: new JobTypeRegistry(), logger, leaseMs: 10_000 });
      const stop = startDuties(svc, logger, { reapMs: 50, expireMs: 50, integrityMs: 50, reconcileMs: 200 });
      replicas.push({ svc, queue, stop });
    }
  });

  afterAll(async () => {
    for (const r of replicas) {
      await r.stop();
      await r.queue.close();
    }
    await redis?.cleanup();
    for (const db of dbs) await db.close();
    await tdb?.drop();
  });

  it('shares the work without leasing a job twice', async () => {
    const n = 600;
    const reqs = Array.from({ length: n }, () => job());
    for (let i = 0; i < n; i += 50) await replicas[(i / 50) % 2]!.svc.submission.submitMany('t1', null, reqs.slice(i, i + 50));
    const leases = new Map<string, number>();
    const perReplica = [0, 0];
    const claimer = async (replica: number, runnerId: string) => {
      const { svc } = replicas[replica]!;
      const runner: RunnerIdentity = { id: runnerId, tenantId: 't1', pool: 'default', jobTypes: ['echo'] };
      let idle = 0;
      while (idle < 3) {
        const got = await svc.runners.claim(runner, { max: 9, waitMs: 100 });
        if (got.length === 0) {
          idle++;
          continue;
        }
        idle = 0;
        perReplica[replica]! += got.length;
        for (const g of got) leases.set(g.jobId, (leases.get(g.jobId) ?? 0) + 1);
        await svc.runners.completeMany(
          runner,
          got.map((g) => ({
            ref: { jobId: g.jobId, leaseId: g.leaseId, fencingToken: g.fencingToken },
            data: { by: runnerId },
            attempt: g.attempt,
            type: g.type,
          })),
        );
      }
    };
    await Promise.all([claimer(0, 'a1'), claimer(0, 'a2'), claimer(1, 'b1'), claimer(1, 'b2')]);
    expect(leases.size).toBe(n);
    expect([...leases.values()].every((c) => c === 1)).toBe(true);
    expect(perReplica[0]).toBeGreaterThan(0);
    expect(perReplica[1]).toBeGreaterThan(0);
    const rows = await dbs[0]!.query<{ status: string; attempts: number; n: number }>(
      `select status, attempts, count(*)::int as n from jobs where tenant_id = 't1' group by status, attempts`,
    );
    expect(rows.rows).toEqual([{ status: 'completed', attempts: 1, n }]);
    const completions = await dbs[0]!.query<{ n: number }>(
      `select count(*)::int as n from job_events where tenant_id = 't1' and type = 'job.completed'`,
    );
    expect(completions.rows[0]!.n).toBe(n);
  });
});
