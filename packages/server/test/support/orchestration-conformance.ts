// Orchestration on every dispatch backend: concurrency keys. Each backend file calls this with
// the same factory it gives the queue conformance suite.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@controlplane/platform';
import { JobLifecycle, JobStore, JobTypeRegistry, type RunnerIdentity } from '@controlplane/server';
import { job, type BackendHarness, type HarnessFactory } from './queue-conformance.js';

interface Interval {
  key: string;
  start: number;
  end: number;
}

/** The most intervals of one key that overlap at any instant (an interval is [start, end)). */
function maxOverlap(intervals: readonly Interval[]): { perKey: number; total: number } {
  const at = (set: readonly Interval[]) => Math.max(0, ...set.map((i) => set.filter((o) => o.start <= i.start && i.start < o.end).length));
  const keys = [...new Set(intervals.map((i) => i.key))];
  return { perKey: Math.max(0, ...keys.map((k) => at(intervals.filter((i) => i.key === k)))), total: at(intervals) };
}

export function orchestrationConformance(name: string, factory: HarnessFactory): void {
  describe(`concurrency keys: ${name}`, () => {
    let h: BackendHarness;
    let svc: JobLifecycle;
    const jobTypes = new JobTypeRegistry();
    const runner = (id: string): RunnerIdentity => ({ id, tenantId: 't1', pool: 'default', jobTypes: ['keyed', 'echo'] });
    const keyed = (key: string, priority = 50) =>
      job({
        type: 'keyed',
        priority,
        payload: { type: 'keyed', data: {} },
        metadata: { source: 'keys', createdAt: new Date().toISOString(), concurrencyKey: key },
      });

    beforeAll(async () => {
      h = await factory();
      svc = new JobLifecycle({
        db: h.db,
        store: new JobStore(h.db),
        queue: h.queue,
        jobTypes,
        logger: createLogger({ service: 'test', level: 'silent' }),
        leaseMs: 10_000,
      });
    });
    afterAll(async () => {
      await h?.close();
    });
    beforeEach(async () => {
      await h.reset();
      await jobTypes.put(h.db, {
        tenantId: 't1',
        type: 'keyed',
        pool: 'default',
        inputSchema: null,
        outputSchema: null,
        concurrencyLimit: 2,
      });
    });

    it('with limit 2, 20 jobs over 4 keys on 2 runners: never more than 2 running per key, and keys run side by side', async () => {
      const keys = ['k1', 'k2', 'k3', 'k4'];
      const reqs = Array.from({ length: 20 }, (_, i) => keyed(keys[i % 4]!));
      await svc.submission.submitMany('t1', null, reqs);
      const sampled: number[] = [];
      const work = async (r: RunnerIdentity) => {
        for (let idle = 0; idle < 30;) {
          const got = await svc.runners.claim(r, { max: 4, waitMs: 0 });
          if (got.length === 0) {
            idle++;
            await sleep(20);
            continue;
          }
          idle = 0;
          const running = await h.db.query<{ n: number }>(
            `select count(*)::int as n from jobs where tenant_id = 't1' and status = 'running' group by concurrency_key order by 1 desc limit 1`,
          );
          sampled.push(running.rows[0]?.n ?? 0);
          await Promise.all(
            got.map(async (g) => {
              await sleep(15 + Math.floor(Math.random() * 20));
              await svc.runners.complete(r, { jobId: g.jobId, leaseId: g.leaseId, fencingToken: g.fencingToken }, { data: {} });
            }),
          );
        }
      };
      await Promise.all([work(runner('runner-a')), work(runner('runner-b'))]);
      const attempts = await h.db.query<{ key: string; started_at: Date; finished_at: Date }>(
        `select j.concurrency_key as key, a.started_at, a.finished_at from job_attempts a
           join jobs j on j.tenant_id = a.tenant_id and j.id = a.job_id where a.tenant_id = 't1'`,
      );
      expect(attempts.rows).toHaveLength(20);
      const overlap = maxOverlap(attempts.rows.map((a) => ({ key: a.key, start: a.started_at.getTime(), end: a.finished_at.getTime() })));
      expect(Math.max(...sampled)).toBeLessThanOrEqual(2);
      expect(overlap.perKey).toBeLessThanOrEqual(2);
      // Keys do not wait on each other: more jobs than one key's limit ran at once.
      expect(overlap.total).toBeGreaterThan(2);
      const done = await h.db.query<{ n: number }>(`select count(*)::int as n from jobs where tenant_id = 't1' and status = 'completed'`);
      expect(done.rows[0]!.n).toBe(20);
    });

    it('a key at its limit does not hold up other work, and its next job runs when a place frees', async () => {
      const busy = Array.from({ length: 8 }, () => keyed('hot', 90));
      await svc.submission.submitMany('t1', null, busy);
      const other = keyed('cold', 10);
      const plain = job({ priority: 5 });
      await svc.submission.submitMany('t1', null, [other, plain]);
      const r = runner('runner-a');
      const leased: Array<{ jobId: string; leaseId: string; fencingToken: string }> = [];
      for (let i = 0; i < 20 && !(leased.some((l) => l.jobId === other.id) && leased.some((l) => l.jobId === plain.id)); i++) {
        leased.push(...(await svc.runners.claim(r, { max: 4, waitMs: 0 })));
        if (leased.length < 4) await sleep(30);
      }
      const hot = leased.filter((l) => busy.some((b) => b.id === l.jobId));
      expect(hot).toHaveLength(2);
      expect(leased.map((l) => l.jobId)).toEqual(expect.arrayContaining([other.id, plain.id]));
      // The two hot ones first in line: one batch shares its run_at, so by id.
      expect(hot.map((l) => l.jobId).sort()).toEqual(
        busy
          .map((b) => b.id)
          .sort()
          .slice(0, 2),
      );
      await svc.runners.complete(r, hot[0]!, { data: {} });
      const next: string[] = [];
      for (let i = 0; i < 20 && next.length === 0; i++) {
        next.push(...(await svc.runners.claim(r, { max: 4, waitMs: 0 })).map((g) => g.jobId));
        if (next.length === 0) await sleep(30);
      }
      expect(next).toHaveLength(1);
      expect(busy.map((b) => b.id)).toContain(next[0]);
    });

    it('a job without a key, or of another tenant with the same key, is not limited', async () => {
      await svc.submission.submitMany('t1', null, [keyed('shared'), keyed('shared'), keyed('shared')]);
      await svc.submission.submitMany('t2', null, [keyed('shared'), keyed('shared')]);
      const got1 = await svc.runners.claim(runner('runner-a'), { max: 10, waitMs: 0 });
      const got2 = await svc.runners.claim({ ...runner('runner-b'), tenantId: 't2' }, { max: 10, waitMs: 0 });
      expect(got1).toHaveLength(2);
      // t2 has no contract for the type: limit 1.
      expect(got2).toHaveLength(1);
    });
  });
}
