import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@controlplane/platform';
import {
  createPostgresDatabase,
  createRedis,
  JobLifecycle,
  JobStore,
  JobTypeRegistry,
  migrate,
  RedisQueue,
  type Database,
  type RedisConnection,
  type RunnerIdentity,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { createTestRedis } from '../../../test/support/redis.js';
import { flowConformance } from './support/flow-conformance.js';
import { orchestrationConformance } from './support/orchestration-conformance.js';
import { job, queueConformance, resetJobs, seedTenants, type HarnessFactory } from './support/queue-conformance.js';
import { startPrivateRedis, type PrivateRedis } from './support/redis-server.js';

const logger = createLogger({ service: 'test', level: 'silent' });

const factory: HarnessFactory = async () => {
  const tdb = await createTestDatabase();
  const db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 8 });
  await migrate(db);
  await seedTenants(db);
  const redis = await createTestRedis();
  const sub = await redis.connect();
  const store = new JobStore(db);
  const queue = new RedisQueue({ redis: redis.client, keys: redis.keys, db, store, logger, subscriber: sub });
  await queue.start();
  return {
    db,
    queue,
    reset: async () => {
      await resetJobs(db);
      const keys = await redis.client.keys(redis.keys.pattern('q'));
      if (keys.length) await redis.client.del(...keys);
    },
    close: async () => {
      await queue.close();
      await redis.cleanup();
      await db.close();
      await tdb.drop();
    },
  };
};

queueConformance('Redis queue on PostgreSQL', factory);
orchestrationConformance('Redis queue on PostgreSQL', factory);
flowConformance('Redis queue on PostgreSQL', factory);

describe('wake-ups between replicas', () => {
  it('a submission on one replica wakes a long-poll on another at once, and a message in the earlier format does too', async () => {
    const tdb = await createTestDatabase();
    const db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 4 });
    const redis = await createTestRedis();
    try {
      await migrate(db);
      await seedTenants(db);
      const store = new JobStore(db);
      // Polling every 30 s: only a wake-up message can end these waits quickly.
      const a = new RedisQueue({
        redis: redis.client,
        keys: redis.keys,
        db,
        store,
        logger,
        subscriber: await redis.connect(),
        pollMs: 30_000,
      });
      const b = new RedisQueue({
        redis: await redis.connect(),
        keys: redis.keys,
        db,
        store,
        logger,
        subscriber: await redis.connect(),
        pollMs: 30_000,
      });
      await a.start();
      await b.start();
      const waitB = (ms: number) => {
        const t0 = performance.now();
        return b.waitForWork('t1', 'default', ms).then(() => performance.now() - t0);
      };
      const first = waitB(10_000);
      await sleep(50);
      await a.enqueue([{ tenantId: 't1', id: randomUUID(), pool: 'default', type: 'echo', priority: 50, runAt: Date.now() }]);
      expect(await first).toBeLessThan(5_000);
      const legacy = waitB(10_000);
      await sleep(50);
      await redis.client.publish(redis.keys.key('q', 'wake'), 't1\u0000default');
      expect(await legacy).toBeLessThan(5_000);
      await a.close();
      await b.close();
    } finally {
      await redis.cleanup();
      await db.close();
      await tdb.drop();
    }
  });
});

describe('Redis loses its data', () => {
  let tdb: TestDatabase;
  let db: Database;
  let priv: PrivateRedis;
  let conn: RedisConnection;
  let svc: JobLifecycle;
  let queue: RedisQueue;
  const runner: RunnerIdentity = { id: 'r-loss', tenantId: 't1', pool: 'default', jobTypes: ['echo'] };

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 6 });
    await migrate(db);
    await seedTenants(db);
    priv = await startPrivateRedis();
    conn = await createRedis({ url: priv.url, keyPrefix: 'cp' });
    const store = new JobStore(db);
    queue = new RedisQueue({ redis: conn.client, keys: conn.keys, db, store, logger });
    await queue.start();
    svc = new JobLifecycle({ db, store, queue, jobTypes: new JobTypeRegistry(), logger });
  });
  afterAll(async () => {
    await conn?.close();
    await priv?.stop();
    await db?.close();
    await tdb?.drop();
  });

  async function drain(expected: Set<string>, leased: Array<{ jobId: string; leaseId: string; fencingToken: string }>) {
    const completions = new Map<string, number>();
    for (const l of leased) {
      await svc.runners.complete(runner, l, { data: { ok: true } });
      completions.set(l.jobId, 1);
    }
    for (let i = 0; i < 200 && completions.size < expected.size; i++) {
      const got = await svc.runners.claim(runner, { max: 50, waitMs: 100 });
      for (const g of got) {
        await svc.runners.complete(runner, { jobId: g.jobId, leaseId: g.leaseId, fencingToken: g.fencingToken }, { data: { ok: true } });
        completions.set(g.jobId, (completions.get(g.jobId) ?? 0) + 1);
      }
    }
    expect(completions.size).toBe(expected.size);
    expect([...completions.values()].every((n) => n === 1)).toBe(true);
    const rows = await db.query<{ n: number }>(
      `select count(*)::int as n from jobs where tenant_id = 't1' and id = any($1::uuid[]) and status = 'completed'`,
      [[...expected]],
    );
    expect(rows.rows[0]!.n).toBe(expected.size);
    const attempts = await db.query<{ n: number }>(
      `select count(*)::int as n from job_attempts where tenant_id = 't1' and job_id = any($1::uuid[]) and outcome = 'completed'`,
      [[...expected]],
    );
    expect(attempts.rows[0]!.n).toBe(expected.size);
  }

  async function submitAndLease(n: number, lease: number) {
    const reqs = Array.from({ length: n }, () => job());
    await svc.submission.submitMany('t1', null, reqs);
    const delayed = job({
      metadata: { source: 's', createdAt: new Date().toISOString(), scheduledAt: new Date(Date.now() + 300).toISOString() },
    });
    await svc.submission.submit('t1', null, delayed);
    const leased = (await svc.runners.claim(runner, { max: lease, waitMs: 0 })).map((g) => ({
      jobId: g.jobId,
      leaseId: g.leaseId,
      fencingToken: g.fencingToken,
    }));
    expect(leased).toHaveLength(lease);
    return { ids: new Set([...reqs.map((r) => r.id), delayed.id]), leased };
  }

  it('FLUSHALL with jobs queued and leased: every job completes exactly once', async () => {
    const { ids, leased } = await submitAndLease(120, 30);
    await conn.client.flushall();
    expect(await svc.runners.claim(runner, { max: 10, waitMs: 0 })).toEqual([]); // the index is gone...
    expect(await queue.checkIntegrity()).toBe(false); // ...detected and rebuilt from PostgreSQL
    expect(await queue.checkIntegrity()).toBe(true);
    await drain(ids, leased);
  });

  it('FLUSHALL mid-flow: a diamond still runs in order, every job once', async () => {
    const a = job();
    const b = job({ dependsOn: [a.id] });
    const c = job({ dependsOn: [a.id] });
    const d = job({ dependsOn: [b.id, c.id] });
    await svc.submission.submitMany('t1', null, [a, b, c, d]);
    const order: string[] = [];
    const runOne = async () => {
      const got = await svc.runners.claim(runner, { max: 10, waitMs: 200 });
      for (const g of got) {
        order.push(g.jobId);
        await svc.runners.complete(runner, { jobId: g.jobId, leaseId: g.leaseId, fencingToken: g.fencingToken }, { data: { id: g.jobId } });
      }
      return got.length;
    };
    expect(await runOne()).toBe(1);
    // B and C are queued (in Redis too) when the index is lost; D waits in PostgreSQL only.
    await conn.client.flushall();
    expect(await queue.checkIntegrity()).toBe(false);
    for (let i = 0; i < 20 && order.length < 4; i++) await runOne();
    expect(order[0]).toBe(a.id);
    expect(order.slice(1, 3).sort()).toEqual([b.id, c.id].sort());
    expect(order[3]).toBe(d.id);
    expect(new Set(order).size).toBe(4);
  });

  it('Redis restarted empty: the client reconnects and nothing is lost', async () => {
    const { ids, leased } = await submitAndLease(80, 20);
    await priv.kill();
    await priv.start();
    for (let i = 0; i < 100; i++) {
      if (conn.client.status === 'ready') break;
      await sleep(50);
    }
    expect(await queue.checkIntegrity()).toBe(false);
    await drain(ids, leased);
  });

  it('a stale Redis entry for a running or finished job leases nothing', async () => {
    const req = job();
    await svc.submission.submit('t1', null, req);
    const [g] = await svc.runners.claim(runner, { max: 1, waitMs: 0 });
    await queue.enqueue([{ tenantId: 't1', pool: 'default', type: 'echo', id: req.id, priority: 50, runAt: Date.now() }]);
    expect(await svc.runners.claim(runner, { max: 5, waitMs: 0 })).toEqual([]);
    await svc.runners.complete(runner, { jobId: g!.jobId, leaseId: g!.leaseId, fencingToken: g!.fencingToken }, {});
    await queue.enqueue([{ tenantId: 't1', pool: 'default', type: 'echo', id: req.id, priority: 50, runAt: Date.now() }]);
    expect(await svc.runners.claim(runner, { max: 5, waitMs: 0 })).toEqual([]);
    await queue.enqueue([{ tenantId: 't1', pool: 'default', type: 'echo', id: randomUUID(), priority: 50, runAt: Date.now() }]);
    expect(await svc.runners.claim(runner, { max: 5, waitMs: 0 })).toEqual([]);
  });
});
