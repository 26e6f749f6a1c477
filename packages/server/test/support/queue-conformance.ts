// One lifecycle suite that every dispatch backend must pass (PostgreSQL queue on PostgreSQL and
// on PGlite, Redis queue on PostgreSQL). Each backend file supplies a factory.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppError, type JobRequestInput } from '@controlplane/contracts';
import { createLogger } from '@controlplane/platform';
import {
  JobLifecycle,
  JobStore,
  JobTypeRegistry,
  putTenantQuotas,
  type Database,
  type QueueBackend,
  type RunnerIdentity,
} from '@controlplane/server';

export interface BackendHarness {
  db: Database;
  queue: QueueBackend;
  /** Removes all jobs between tests. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export type HarnessFactory = () => Promise<BackendHarness>;

export function job(overrides: Partial<JobRequestInput> = {}): JobRequestInput {
  return {
    id: randomUUID(),
    type: 'echo',
    payload: { type: 'echo', data: { n: 1 } },
    metadata: { source: 'conformance', createdAt: new Date().toISOString() },
    retryPolicy: { maxRetries: 2, backoffMs: 20, maxBackoffMs: 40, backoffMultiplier: 2 },
    ...overrides,
  };
}

export async function expectCode(p: Promise<unknown>, code: string): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe(code);
  return err as AppError;
}

export function queueConformance(name: string, factory: HarnessFactory): void {
  describe(`queue conformance: ${name}`, () => {
    let h: BackendHarness;
    let svc: JobLifecycle;
    let store: JobStore;
    const r1: RunnerIdentity = { id: 'runner-1', tenantId: 't1', pool: 'default', jobTypes: ['echo', 'other'] };
    const r2: RunnerIdentity = { id: 'runner-2', tenantId: 't1', pool: 'default', jobTypes: ['echo', 'other'] };
    const rOther: RunnerIdentity = { id: 'runner-b', tenantId: 't2', pool: 'default', jobTypes: ['echo'] };

    beforeAll(async () => {
      h = await factory();
      store = new JobStore(h.db);
      svc = new JobLifecycle({
        db: h.db,
        store,
        queue: h.queue,
        jobTypes: new JobTypeRegistry(),
        logger: createLogger({ service: 'test', level: 'silent' }),
        leaseMs: 5_000,
      });
    });
    afterAll(async () => {
      await h?.close();
    });
    beforeEach(async () => {
      await h.reset();
    });

    it('submits, reads back and treats a repeated id as idempotent', async () => {
      const req = job();
      const res = await svc.submission.submit('t1', 'key:1', req);
      expect(res.status).toBe('queued');
      expect(res.request.priority).toBe(50);
      expect((await svc.queries.get('t1', req.id)).id).toBe(req.id);
      const again = await svc.submission.submit('t1', 'key:1', req);
      expect(again.updatedAt).toBe(res.updatedAt);
      await expectCode(svc.submission.submit('t1', 'key:1', { ...req, priority: 99 }), 'IDEMPOTENCY_CONFLICT');
    });

    it('submissions arriving together are grouped, and each still gets its own answer', async () => {
      const distinct = Array.from({ length: 40 }, () => job());
      const same = job();
      const clash = job();
      const results = await Promise.allSettled([
        ...distinct.map((r) => svc.submission.submit('t1', null, r)),
        // one id five times with one body: one job, five identical answers
        ...Array.from({ length: 5 }, () => svc.submission.submit('t1', null, same)),
        // one id with two bodies: the first stands, the other is a conflict
        svc.submission.submit('t1', null, clash),
        svc.submission.submit('t1', null, { ...clash, priority: 7 }),
      ]);
      const ok = results
        .filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof svc.submission.submit>>> => r.status === 'fulfilled')
        .map((r) => r.value);
      expect(ok).toHaveLength(46);
      expect(new Set(ok.map((r) => r.id)).size).toBe(42);
      expect(ok.filter((r) => r.id === same.id).every((r) => r.updatedAt === ok.find((x) => x.id === same.id)!.updatedAt)).toBe(true);
      const refused = results.filter((r) => r.status === 'rejected');
      expect(refused).toHaveLength(1);
      expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT' });
      // Every job was queued exactly once: one created and one queued event each, all claimable once.
      const events = await svc.queries.events('t1', same.id, '0');
      expect(events.map((e) => e.type)).toEqual(['job.created', 'job.queued']);
      const claimed = await svc.runners.claim(r1, { max: 100, waitMs: 0 });
      expect(claimed.map((c) => c.jobId).sort()).toEqual([...distinct.map((r) => r.id), same.id, clash.id].sort());
    });

    it('keeps tenants apart: same id in two tenants, no cross-tenant read', async () => {
      const req = job();
      await svc.submission.submit('t1', null, req);
      await svc.submission.submit('t2', null, { ...req, payload: { type: 'echo', data: { other: true } } });
      expect((await svc.queries.get('t2', req.id)).request.payload.data).toEqual({ other: true });
      await expectCode(svc.queries.get('t2', randomUUID()), 'JOB_NOT_FOUND');
      const claimed = await svc.runners.claim(rOther, { max: 10, waitMs: 0 });
      expect(claimed.map((c) => c.tenantId)).toEqual(['t2']);
      expect(claimed[0]!.payload.data).toEqual({ other: true });
    });

    it('refuses invalid requests with field paths', async () => {
      const err = await expectCode(
        svc.submission.submit('t1', null, { ...job(), priority: 500, payload: { type: 'x' } }),
        'VALIDATION_FAILED',
      );
      expect(err.details.map((d) => d.path)).toEqual(expect.arrayContaining([['priority'], ['payload', 'data']]));
    });

    it('submits a batch atomically', async () => {
      const good = job();
      await expectCode(svc.submission.submitMany('t1', null, [good, { ...job(), type: '' }]), 'VALIDATION_FAILED');
      await expectCode(svc.queries.get('t1', good.id), 'JOB_NOT_FOUND');
      const ok = await svc.submission.submitMany('t1', null, [job(), job(), job()]);
      expect(ok.map((r) => r.status)).toEqual(['queued', 'queued', 'queued']);
    });

    it('pages through a batch (one now() for every job) without skipping or repeating a job', async () => {
      const batch = Array.from({ length: 7 }, () => job());
      await svc.submission.submitMany('t1', null, batch);
      const seen: string[] = [];
      let after: { createdAt: string; id: string } | undefined;
      for (let page = 0; page < 10; page++) {
        const rows = await svc.queries.list('t1', { limit: 3, after });
        seen.push(...rows.map((r) => r.id));
        const last = rows.at(-1);
        if (rows.length < 3 || !last?.cursor_at) break;
        after = { createdAt: last.cursor_at, id: last.id };
      }
      expect(seen.sort()).toEqual(batch.map((j) => j.id).sort());
    });

    it('claims by priority, then submission order', async () => {
      const low = job({ priority: 10 });
      const mid1 = job({ priority: 50 });
      const mid2 = job({ priority: 50 });
      const high = job({ priority: 90, type: 'other', payload: { type: 'other', data: {} } });
      for (const j of [low, mid1, mid2, high]) {
        await svc.submission.submit('t1', null, j);
        await sleep(3);
      }
      const claimed = await svc.runners.claim(r1, { max: 10, waitMs: 0 });
      expect(claimed.map((c) => c.jobId)).toEqual([high.id, mid1.id, mid2.id, low.id]);
      expect(new Set(claimed.map((c) => c.fencingToken)).size).toBe(4);
    });

    it('hands a runner only its registered types, whatever it asks for', async () => {
      const secret = job({ type: 'admin.task', payload: { type: 'x', data: {} } });
      await svc.submission.submit('t1', null, secret);
      expect(await svc.runners.claim(r1, { max: 10, waitMs: 0, types: ['admin.task'] })).toEqual([]);
      expect(await svc.runners.claim(r1, { max: 10, waitMs: 0 })).toEqual([]);
      expect(await svc.runners.claim(rOther, { max: 10, waitMs: 0, types: ['admin.task'] })).toEqual([]);
      const admin: RunnerIdentity = { ...r1, id: 'runner-admin', jobTypes: ['admin.task'] };
      expect((await svc.runners.claim(admin, { max: 10, waitMs: 0 })).map((c) => c.jobId)).toEqual([secret.id]);
    });

    it('holds scheduled jobs until they are due and wakes a long-poll when work arrives', async () => {
      const later = job({
        metadata: { source: 's', createdAt: new Date().toISOString(), scheduledAt: new Date(Date.now() + 400).toISOString() },
      });
      await svc.submission.submit('t1', null, later);
      expect(await svc.runners.claim(r1, { max: 1, waitMs: 0 })).toEqual([]);
      const got = await svc.runners.claim(r1, { max: 1, waitMs: 3_000 });
      expect(got.map((g) => g.jobId)).toEqual([later.id]);

      const waiting = svc.runners.claim(r1, { max: 1, waitMs: 5_000 });
      await sleep(100);
      const now = job();
      await svc.submission.submit('t1', null, now);
      expect((await waiting).map((g) => g.jobId)).toEqual([now.id]);
    });

    it('records a completion once and refuses stale, foreign and cross-tenant writers', async () => {
      const req = job();
      await svc.submission.submit('t1', null, req);
      const [env] = await svc.runners.claim(r1, { max: 1, waitMs: 0 });
      const ref = { jobId: env!.jobId, leaseId: env!.leaseId, fencingToken: env!.fencingToken };
      await expectCode(svc.runners.complete(r2, ref, { data: { forged: true } }), 'LEASE_NOT_HELD');
      await expectCode(svc.runners.complete({ ...rOther, id: r1.id }, ref, { data: {} }), 'LEASE_NOT_HELD');
      await expectCode(
        svc.runners.complete(r1, { ...ref, fencingToken: String(BigInt(ref.fencingToken) - 1n) }, { data: {} }),
        'LEASE_NOT_HELD',
      );
      await expectCode(svc.runners.complete(r1, { ...ref, leaseId: randomUUID() }, { data: {} }), 'LEASE_NOT_HELD');
      const ack = await svc.runners.complete(r1, ref, { data: { echoed: 1 } });
      expect(ack).toEqual({ jobId: req.id, status: 'completed', duplicate: false });
      expect(await svc.runners.complete(r1, ref, { data: { echoed: 1 } })).toMatchObject({ duplicate: true, status: 'completed' });
      // another outcome for the lease it finished is a conflict, not a duplicate; the recorded one stays
      await expectCode(svc.runners.complete(r1, ref, { data: { echoed: 2 } }), 'RESOURCE_CONFLICT');
      await expectCode(svc.runners.fail(r1, ref, { category: 'RUNTIME_ERROR', message: 'late', retryable: true }), 'RESOURCE_CONFLICT');
      await expectCode(svc.runners.fail(r2, ref, { category: 'RUNTIME_ERROR', message: 'late', retryable: true }), 'LEASE_NOT_HELD');
      const done = await svc.queries.get('t1', req.id);
      expect(done.status).toBe('completed');
      expect(done.result).toMatchObject({ success: true, data: { echoed: 1 }, metadata: { attempts: 1, runnerId: 'runner-1' } });
      const types = (await store.listEvents(h.db, 't1', req.id)).map((e) => e.type);
      expect(types).toEqual(['job.created', 'job.queued', 'job.started', 'job.completed']);
    });

    it('fast-path completion re-checks attempt and type against the lease', async () => {
      const req = job();
      await svc.submission.submit('t1', null, req);
      const [g] = await svc.runners.claim(r1, { max: 1, waitMs: 0 });
      const ref = { jobId: g!.jobId, leaseId: g!.leaseId, fencingToken: g!.fencingToken };
      await expectCode(svc.runners.complete(r1, ref, { data: { x: 1 }, attempt: 2, type: 'echo' }), 'LEASE_NOT_HELD');
      await expectCode(svc.runners.complete(r1, ref, { data: { x: 1 }, attempt: 1, type: 'other' }), 'LEASE_NOT_HELD');
      await expectCode(svc.runners.complete(r2, ref, { data: { x: 1 }, attempt: 1, type: 'echo' }), 'LEASE_NOT_HELD');
      expect(await svc.runners.complete(r1, ref, { data: { x: 1 }, attempt: 1, type: 'echo' })).toEqual({
        jobId: req.id,
        status: 'completed',
        duplicate: false,
      });
      expect(await svc.runners.complete(r1, ref, { data: { x: 1 }, attempt: 1, type: 'echo' })).toMatchObject({ duplicate: true });
      const attempts = await store.listAttempts(h.db, 't1', req.id);
      expect(attempts.map((a) => a.outcome)).toEqual(['completed']);
      const events = (await store.listEvents(h.db, 't1', req.id)).map((e) => e.type);
      expect(events).toEqual(['job.created', 'job.queued', 'job.started', 'job.completed']);
    });

    it('completes a batch set-wise, judging each item on its own', async () => {
      const reqs = [job(), job(), job()];
      await svc.submission.submitMany('t1', null, reqs);
      const got = await svc.runners.claim(r1, { max: 3, waitMs: 0 });
      expect(got).toHaveLength(3);
      const refs = got.map((g) => ({ jobId: g.jobId, leaseId: g.leaseId, fencingToken: g.fencingToken }));
      const first = await svc.runners.completeMany(r1, [
        { ref: refs[0]!, data: { i: 0 } },
        { ref: { ...refs[1]!, fencingToken: '1' }, data: { i: 1 } },
        { ref: refs[2]!, data: { i: 2 } },
      ]);
      expect(first.map((a) => ('error' in a ? a.error.code : a.status))).toEqual(['completed', 'LEASE_NOT_HELD', 'completed']);
      const again = await svc.runners.completeMany(r1, [
        { ref: refs[0]!, data: { i: 0 } },
        { ref: refs[1]!, data: { i: 1 } },
      ]);
      expect(again.map((a) => ('error' in a ? a.error.code : `${a.status}:${a.duplicate}`))).toEqual(['completed:true', 'completed:false']);
      await expectCode(svc.runners.complete(r2, refs[1]!, { data: {} }), 'LEASE_NOT_HELD');
      for (const [i, g] of got.entries()) expect((await svc.queries.get('t1', g.jobId)).result?.data).toEqual({ i });
      const events = await h.db.query<{ n: number }>(
        `select count(*)::int as n from job_events where tenant_id = 't1' and type = 'job.completed' and job_id = any($1::uuid[])`,
        [reqs.map((r) => r.id)],
      );
      expect(events.rows[0]!.n).toBe(3);
    });

    it('retries with backoff per policy, then fails and dead-letters; re-drive queues it again', async () => {
      const req = job({ retryPolicy: { maxRetries: 1, backoffMs: 150, maxBackoffMs: 150, backoffMultiplier: 1 } });
      await svc.submission.submit('t1', null, req);
      const [a1] = await svc.runners.claim(r1, { max: 1, waitMs: 0 });
      const t0 = Date.now();
      const ack1 = await svc.runners.fail(
        r1,
        { jobId: req.id, leaseId: a1!.leaseId, fencingToken: a1!.fencingToken },
        { category: 'RUNTIME_ERROR', message: 'boom', retryable: true },
      );
      expect(ack1.status).toBe('retrying');
      expect(await svc.runners.claim(r1, { max: 1, waitMs: 0 })).toEqual([]);
      const [a2] = await svc.runners.claim(r1, { max: 1, waitMs: 3_000 });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(70); // equal jitter: at least half the backoff
      expect(a2!.attempt).toBe(2);
      const ack2 = await svc.runners.fail(
        r1,
        { jobId: req.id, leaseId: a2!.leaseId, fencingToken: a2!.fencingToken },
        { category: 'RUNTIME_ERROR', message: 'boom again', retryable: true },
      );
      expect(ack2.status).toBe('failed');
      const failed = await svc.queries.getRow('t1', req.id);
      expect(failed.dead_lettered_at).not.toBeNull();
      expect(failed.error).toMatchObject({ category: 'RUNTIME_ERROR', message: 'boom again' });
      const again = await svc.operator.retry('t1', req.id);
      expect(again.status).toBe('queued');
      const [a3] = await svc.runners.claim(r1, { max: 1, waitMs: 0 });
      expect(a3!.attempt).toBe(3);
      await expectCode(svc.operator.retry('t1', req.id), 'INVALID_STATE');
    });

    it('does not retry non-retryable failures', async () => {
      const req = job();
      await svc.submission.submit('t1', null, req);
      const [a] = await svc.runners.claim(r1, { max: 1, waitMs: 0 });
      const ack = await svc.runners.fail(
        r1,
        { jobId: req.id, leaseId: a!.leaseId, fencingToken: a!.fencingToken },
        { category: 'VALIDATION_ERROR', message: 'bad input', retryable: false },
      );
      expect(ack.status).toBe('failed');
    });

    it('reclaims an expired lease, runs the job elsewhere, and refuses the stale runner', async () => {
      const shortSvc = new JobLifecycle({
        db: h.db,
        store,
        queue: h.queue,
        jobTypes: new JobTypeRegistry(),
        logger: createLogger({ service: 'test', level: 'silent' }),
        leaseMs: 100,
      });
      const req = job({ retryPolicy: { maxRetries: 3, backoffMs: 0, maxBackoffMs: 0, backoffMultiplier: 1 } });
      await shortSvc.submission.submit('t1', null, req);
      const [stale] = await shortSvc.runners.claim(r1, { max: 1, waitMs: 0 });
      await sleep(250);
      expect(await shortSvc.maintenance.reapExpiredLeases()).toBe(1);
      const [fresh] = await shortSvc.runners.claim(r2, { max: 1, waitMs: 2_000 });
      expect(fresh!.jobId).toBe(req.id);
      expect(BigInt(fresh!.fencingToken)).toBeGreaterThan(BigInt(stale!.fencingToken));
      await expectCode(
        shortSvc.runners.complete(
          r1,
          { jobId: req.id, leaseId: stale!.leaseId, fencingToken: stale!.fencingToken },
          { data: { from: 'stale' } },
        ),
        'LEASE_NOT_HELD',
      );
      await svc.runners.complete(
        r2,
        { jobId: req.id, leaseId: fresh!.leaseId, fencingToken: fresh!.fencingToken },
        { data: { from: 'fresh' } },
      );
      const done = await svc.queries.get('t1', req.id);
      expect(done.result?.data).toEqual({ from: 'fresh' });
      const attempts = await store.listAttempts(h.db, 't1', req.id);
      expect(attempts.map((a) => a.outcome)).toEqual(['lease_expired', 'completed']);
    });

    it('extends leases on heartbeat and reports lost ones', async () => {
      await svc.submission.submit('t1', null, job());
      const [a] = await svc.runners.claim(r1, { max: 1, waitMs: 0 });
      const ref = { jobId: a!.jobId, leaseId: a!.leaseId, fencingToken: a!.fencingToken };
      const hb = await svc.runners.heartbeat(r1, [ref, { jobId: randomUUID(), leaseId: randomUUID(), fencingToken: '1' }]);
      expect(hb.extended).toEqual([a!.jobId]);
      expect(hb.lost).toHaveLength(1);
      expect((await svc.runners.heartbeat(r2, [ref])).lost).toEqual([a!.jobId]);
    });

    it('hands back, on a draining heartbeat, leases the runner does not list', async () => {
      const [a, b] = [job(), job()];
      await svc.submission.submitMany('t1', null, [a, b]);
      const got = await svc.runners.claim(r1, { max: 2, waitMs: 0 });
      expect(got).toHaveLength(2);
      const kept = got[0]!;
      await svc.runners.heartbeat(r1, [{ jobId: kept.jobId, leaseId: kept.leaseId, fencingToken: kept.fencingToken }], { draining: true });
      expect((await svc.queries.get('t1', kept.jobId)).status).toBe('running');
      expect((await svc.queries.get('t1', got[1]!.jobId)).status).toBe('queued');
      // an ordinary heartbeat never does this (a claim's answer may still be on its way)
      const again = await svc.runners.claim(r2, { max: 1, waitMs: 1_000 });
      await svc.runners.heartbeat(r2, [], {});
      expect((await svc.queries.get('t1', again[0]!.jobId)).status).toBe('running');
    });

    it('cancels queued jobs at once and running jobs through the runner', async () => {
      const queued = job();
      await svc.submission.submit('t1', null, queued);
      expect((await svc.operator.cancel('t1', queued.id)).status).toBe('cancelled');
      expect(await svc.runners.claim(r1, { max: 5, waitMs: 0 })).toEqual([]);

      const running = job();
      await svc.submission.submit('t1', null, running);
      const [a] = await svc.runners.claim(r1, { max: 1, waitMs: 0 });
      const ref = { jobId: running.id, leaseId: a!.leaseId, fencingToken: a!.fencingToken };
      expect((await svc.operator.cancel('t1', running.id)).status).toBe('running');
      const hb = await svc.runners.heartbeat(r1, [ref]);
      expect(hb.cancel).toEqual([running.id]);
      const ack = await svc.runners.fail(r1, ref, {
        category: 'RUNNER_ERROR',
        code: 'JOB_CANCELLED',
        message: 'cancelled',
        retryable: false,
      });
      expect(ack.status).toBe('cancelled');
      expect((await svc.queries.get('t1', running.id)).status).toBe('cancelled');
      await expectCode(svc.operator.cancel('t1', randomUUID()), 'JOB_NOT_FOUND');
    });

    it('expires jobs that wait past expiresAt', async () => {
      const req = job({
        type: 'nobody.serves',
        payload: { type: 'x', data: {} },
        metadata: { source: 's', createdAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 150).toISOString() },
      });
      await svc.submission.submit('t1', null, req);
      await sleep(250);
      expect(await svc.maintenance.expireJobs()).toBeGreaterThanOrEqual(1);
      const row = await svc.queries.getRow('t1', req.id);
      expect(row.status).toBe('failed');
      expect(row.error?.code).toBe('JOB_EXPIRED');
      expect((await store.listEvents(h.db, 't1', req.id)).map((e) => e.type)).toContain('job.expired');
    });

    it('hands back a released job at once without using a retry', async () => {
      const req = job({ retryPolicy: { maxRetries: 0, backoffMs: 0, maxBackoffMs: 0, backoffMultiplier: 1 } });
      await svc.submission.submit('t1', null, req);
      const [a] = await svc.runners.claim(r1, { max: 1, waitMs: 0 });
      expect((await svc.runners.release(r1, { jobId: req.id, leaseId: a!.leaseId, fencingToken: a!.fencingToken })).status).toBe('queued');
      const [b] = await svc.runners.claim(r2, { max: 1, waitMs: 1_000 });
      const ack = await svc.runners.fail(
        r2,
        { jobId: req.id, leaseId: b!.leaseId, fencingToken: b!.fencingToken },
        { category: 'RUNTIME_ERROR', message: 'x', retryable: true },
      );
      // maxRetries 0: the release did not count, so this first real failure is final.
      expect(ack.status).toBe('failed');
    });

    it('validates input and output against a job-type contract', async () => {
      const reg = new JobTypeRegistry();
      const csvc = new JobLifecycle({
        db: h.db,
        store,
        queue: h.queue,
        jobTypes: reg,
        logger: createLogger({ service: 'test', level: 'silent' }),
      });
      await reg.put(h.db, {
        tenantId: 't1',
        type: 'typed',
        pool: 'default',
        inputSchema: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
        outputSchema: { type: 'object', required: ['sum'] },
      });
      const err = await expectCode(
        csvc.submission.submit('t1', null, job({ type: 'typed', payload: { type: 't', data: { n: 'x' } } })),
        'SCHEMA_MISMATCH',
      );
      expect(err.status).toBe(400);
      expect(err.details[0]?.path).toEqual(['payload', 'data', 'n']);
      const ok = job({ type: 'typed', payload: { type: 't', data: { n: 2 } } });
      await csvc.submission.submit('t1', null, ok);
      const [a] = await csvc.runners.claim({ ...r1, jobTypes: ['typed'] }, { max: 1, waitMs: 0 });
      const ack = await csvc.runners.complete(
        { ...r1, jobTypes: ['typed'] },
        { jobId: ok.id, leaseId: a!.leaseId, fencingToken: a!.fencingToken },
        { data: { wrong: true } },
      );
      expect(ack.status).toBe('failed');
      expect((await csvc.queries.get('t1', ok.id)).error?.category).toBe('SCHEMA_MISMATCH');
    });

    it('enforces tenant quotas: queued jobs, payload bytes and running jobs', async () => {
      await putTenantQuotas(h.db, 't1', { maxQueuedJobs: 3, maxRunningJobs: 1, maxPayloadBytes: 200 }, 'test');
      try {
        const qsvc = new JobLifecycle({
          db: h.db,
          store,
          queue: h.queue,
          jobTypes: new JobTypeRegistry(),
          logger: createLogger({ service: 'test', level: 'silent' }),
        });
        await qsvc.submission.submitMany('t1', null, [job(), job()]);
        await qsvc.submission.submit('t1', null, job());
        const full = await expectCode(qsvc.submission.submit('t1', null, job()), 'QUOTA_EXCEEDED');
        expect(full.retryable).toBe(true);
        const big = await expectCode(
          qsvc.submission.submit('t1', null, job({ payload: { type: 'echo', data: { blob: 'x'.repeat(500) } } })),
          'QUOTA_EXCEEDED',
        );
        expect(big.retryable).toBe(false);
        // other tenants are not affected
        await qsvc.submission.submitMany('t2', null, [job(), job(), job(), job()]);
        const got = await qsvc.runners.claim(r1, { max: 5, waitMs: 0 });
        expect(got).toHaveLength(1);
        expect(await qsvc.runners.claim(r2, { max: 5, waitMs: 0 })).toEqual([]);
        await qsvc.runners.complete(
          r1,
          { jobId: got[0]!.jobId, leaseId: got[0]!.leaseId, fencingToken: got[0]!.fencingToken },
          { data: {} },
        );
        expect(await qsvc.runners.claim(r2, { max: 5, waitMs: 0 })).toHaveLength(1);
      } finally {
        await h.db.query(`delete from tenant_quotas where tenant_id = 't1'`);
      }
    });

    it('never leases one job to two concurrent claimers', async () => {
      const n = 300;
      const batch = Array.from({ length: n }, () => job());
      for (let i = 0; i < n; i += 100) await svc.submission.submitMany('t1', null, batch.slice(i, i + 100));
      const seen = new Map<string, number>();
      const claimer = async (r: RunnerIdentity) => {
        for (;;) {
          const got = await svc.runners.claim(r, { max: 7, waitMs: 0 });
          if (got.length === 0) return;
          for (const g of got) seen.set(g.jobId, (seen.get(g.jobId) ?? 0) + 1);
          await Promise.all(
            got.map((g) => svc.runners.complete(r, { jobId: g.jobId, leaseId: g.leaseId, fencingToken: g.fencingToken }, { data: {} })),
          );
        }
      };
      await Promise.all([claimer(r1), claimer(r2), claimer({ ...r1, id: 'runner-3' }), claimer({ ...r2, id: 'runner-4' })]);
      expect(seen.size).toBe(n);
      expect([...seen.values()].every((c) => c === 1)).toBe(true);
      const counts = await h.db.query<{ status: string; n: number }>(
        `select status, count(*)::int as n from jobs where tenant_id = 't1' group by status`,
      );
      expect(counts.rows).toEqual([{ status: 'completed', n }]);
    });
  });
}

/** Seeds the tenants the suite uses. */
export async function seedTenants(db: Database): Promise<void> {
  await db.query(`insert into tenants (id, name) values ('t1', 'Tenant one'), ('t2', 'Tenant two') on conflict do nothing`);
}

export async function resetJobs(db: Database): Promise<void> {
  await db.query(
    'delete from job_attempts; delete from job_events; delete from job_dependencies; delete from jobs; delete from job_types; delete from concurrency_slots;',
  );
}
