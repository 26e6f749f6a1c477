// Flows on every dispatch backend: jobs that wait for their parents. Each backend file calls this
// with the same factory it gives the queue conformance suite.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JobRequestInput } from '@controlplane/contracts';
import { createLogger } from '@controlplane/platform';
import { JobLifecycle, JobStore, JobTypeRegistry, type RunnerIdentity } from '@controlplane/server';
import { expectCode, job, type BackendHarness, type HarnessFactory } from './queue-conformance.js';

export function flowConformance(name: string, factory: HarnessFactory): void {
  describe(`flows: ${name}`, () => {
    let h: BackendHarness;
    let svc: JobLifecycle;
    const r1: RunnerIdentity = { id: 'runner-1', tenantId: 't1', pool: 'default', jobTypes: ['echo'] };
    const r2: RunnerIdentity = { ...r1, id: 'runner-2' };
    const rOther: RunnerIdentity = { id: 'runner-b', tenantId: 't2', pool: 'default', jobTypes: ['echo'] };
    const child = (parents: string[], extra: Partial<JobRequestInput> = {}) => job({ dependsOn: parents, ...extra });
    const claimIds = async (r: RunnerIdentity = r1) =>
      (await svc.runners.claim(r, { max: 50, waitMs: 0 })).sort((a, b) => (a.jobId < b.jobId ? -1 : 1));
    const refOf = (g: { jobId: string; leaseId: string; fencingToken: string }) => ({
      jobId: g.jobId,
      leaseId: g.leaseId,
      fencingToken: g.fencingToken,
    });
    const status = async (id: string, tenant = 't1') => (await svc.queries.get(tenant, id)).status;

    beforeAll(async () => {
      h = await factory();
      svc = new JobLifecycle({
        db: h.db,
        store: new JobStore(h.db),
        queue: h.queue,
        jobTypes: new JobTypeRegistry(),
        logger: createLogger({ service: 'test', level: 'silent' }),
        leaseMs: 10_000,
      });
    });
    afterAll(async () => {
      await h?.close();
    });
    beforeEach(async () => {
      await h.reset();
    });

    it('runs a diamond (A → B, C → D) in order, and D reads both parents’ results', async () => {
      const a = job();
      const b = child([a.id]);
      const c = child([a.id]);
      const d = child([b.id, c.id]);
      // One call, children before their parents: the tree is taken as a whole.
      const submitted = await svc.submission.submitMany('t1', null, [d, b, a, c]);
      expect(submitted.map((s) => s.status)).toEqual(['pending', 'pending', 'queued', 'pending']);
      const first = await claimIds();
      expect(first.map((g) => g.jobId)).toEqual([a.id]);
      await svc.runners.complete(r1, refOf(first[0]!), { data: { from: 'a' } });
      const second = await claimIds();
      expect(second.map((g) => g.jobId)).toEqual([b.id, c.id].sort());
      expect(await status(d.id)).toBe('pending');
      const gb = second.find((g) => g.jobId === b.id)!;
      const gc = second.find((g) => g.jobId === c.id)!;
      await svc.runners.complete(r1, refOf(gb), { data: { from: 'b' } });
      expect(await claimIds()).toEqual([]);
      expect(await status(d.id)).toBe('pending');
      await svc.runners.complete(r1, refOf(gc), { data: { from: 'c' } });
      const third = await claimIds();
      expect(third.map((g) => g.jobId)).toEqual([d.id]);
      const results = await svc.flows.parentResults(r1, refOf(third[0]!));
      expect(results.map((r) => [r.id, r.status, r.result?.data])).toEqual(
        [
          [b.id, 'completed', { from: 'b' }],
          [c.id, 'completed', { from: 'c' }],
        ].sort((x, y) => ((x[0] as string) < (y[0] as string) ? -1 : 1)),
      );
      const shown = await svc.queries.get('t1', d.id);
      expect(shown.flowId).toBe(a.id);
      expect(shown.parents).toEqual([b.id, c.id].sort());
      expect((await svc.queries.get('t1', a.id)).children).toEqual([b.id, c.id].sort());
      expect((await svc.queries.get('t1', a.id)).flowId).toBe(a.id);
      const inFlow = await svc.queries.list('t1', { flowId: a.id, limit: 50 });
      expect(inFlow.map((r) => r.id).sort()).toEqual([a.id, b.id, c.id, d.id].sort());
      await svc.submission.submit('t1', null, job());
      expect(await svc.queries.list('t1', { flowId: a.id, limit: 50 })).toHaveLength(4);
    });

    it('a failed parent fails, cancels or is ignored by its children per their policy (cascading)', async () => {
      const p = job({ retryPolicy: { maxRetries: 0, backoffMs: 0, maxBackoffMs: 0, backoffMultiplier: 1 } });
      const failKid = child([p.id]);
      const grandKid = child([failKid.id]);
      const cancelKid = child([p.id], { parentPolicy: 'cancel' });
      const ignoreKid = child([p.id], { parentPolicy: 'ignore' });
      await svc.submission.submitMany('t1', null, [p, failKid, grandKid, cancelKid, ignoreKid]);
      const [g] = await claimIds();
      await svc.runners.fail(r1, refOf(g!), { category: 'RUNTIME_ERROR', message: 'boom', retryable: false });
      expect(await status(p.id)).toBe('failed');
      const failed = await svc.queries.get('t1', failKid.id);
      expect(failed.status).toBe('failed');
      expect(failed.error?.code).toBe('PARENT_FAILED');
      expect(await status(grandKid.id)).toBe('failed');
      expect(await status(cancelKid.id)).toBe('cancelled');
      expect(await status(ignoreKid.id)).toBe('queued');
      expect((await claimIds()).map((x) => x.jobId)).toEqual([ignoreKid.id]);
    });

    it('a child of a parent that already ended is settled at submission', async () => {
      const p = job();
      await svc.submission.submit('t1', null, p);
      const [g] = await claimIds();
      await svc.runners.complete(r1, refOf(g!), { data: { ok: true } });
      expect((await svc.submission.submit('t1', null, child([p.id]))).status).toBe('queued');
      const q = job();
      await svc.submission.submit('t1', null, q);
      await svc.operator.cancel('t1', q.id);
      const orphan = await svc.submission.submit('t1', null, child([q.id]));
      expect(orphan.status).toBe('failed');
      expect(orphan.error?.code).toBe('PARENT_FAILED');
    });

    it('a cancelled pending child leaves its parent alone, and its own children follow their policy', async () => {
      const p = job();
      const kid = child([p.id]);
      const grand = child([kid.id], { parentPolicy: 'cancel' });
      await svc.submission.submitMany('t1', null, [p, kid, grand]);
      expect((await svc.operator.cancel('t1', kid.id)).status).toBe('cancelled');
      expect(await status(grand.id)).toBe('cancelled');
      expect(await status(p.id)).toBe('queued');
    });

    it('refuses a cycle, a job naming itself, and a parent that is not there', async () => {
      const x = job();
      const y = job();
      const err = await expectCode(
        svc.submission.submitMany('t1', null, [
          { ...x, dependsOn: [y.id] },
          { ...y, dependsOn: [x.id] },
        ]),
        'VALIDATION_FAILED',
      );
      expect(err.status).toBe(400);
      expect(err.details[0]?.path?.join('.')).toMatch(/^jobs\.[01]\.dependsOn$/);
      expect(err.details[0]?.message).toMatch(/cycle/);
      await expectCode(svc.queries.get('t1', x.id), 'JOB_NOT_FOUND');
      const self = job();
      const selfErr = await expectCode(svc.submission.submit('t1', null, { ...self, dependsOn: [self.id] }), 'VALIDATION_FAILED');
      expect(selfErr.details[0]?.path).toEqual(['dependsOn']);
      const ghost = randomUUID();
      const ghostErr = await expectCode(svc.submission.submit('t1', null, child([ghost])), 'VALIDATION_FAILED');
      expect(ghostErr.details).toEqual([expect.objectContaining({ path: ['dependsOn', '0'], message: `no job ${ghost} in this tenant` })]);
    });

    it('attack: another tenant cannot name a parent it does not own, nor read a parent’s result', async () => {
      const secret = job();
      await svc.submission.submit('t1', null, secret);
      const [g] = await claimIds();
      await svc.runners.complete(r1, refOf(g!), { data: { secret: 'of t1' } });
      // t2 names t1's job as a parent: refused exactly as a job that does not exist.
      const err = await expectCode(svc.submission.submit('t2', null, child([secret.id])), 'VALIDATION_FAILED');
      expect(err.details).toEqual([expect.objectContaining({ path: ['dependsOn', '0'], message: `no job ${secret.id} in this tenant` })]);
      // Even a job of t2 with the same id as t1's cannot route t1's result to a t2 child.
      await svc.submission.submit('t2', null, { ...secret });
      const t2child = child([secret.id]);
      await svc.submission.submit('t2', null, t2child);
      const [t2parent] = await claimIds(rOther);
      await svc.runners.complete(rOther, refOf(t2parent!), { data: { mine: 't2' } });
      const [gc] = await claimIds(rOther);
      expect(gc!.jobId).toBe(t2child.id);
      const seen = await svc.flows.parentResults(rOther, refOf(gc!));
      expect(seen.map((s) => s.result?.data)).toEqual([{ mine: 't2' }]);
      // Neither another runner of the tenant nor a runner of another tenant may read them with the child's lease.
      await expectCode(svc.flows.parentResults(r1, refOf(gc!)), 'LEASE_NOT_HELD');
      await expectCode(svc.flows.parentResults({ ...rOther, id: 'runner-b2' }, refOf(gc!)), 'LEASE_NOT_HELD');
      await expectCode(svc.flows.parentResults(r2, { ...refOf(gc!), fencingToken: '1' }), 'LEASE_NOT_HELD');
    });

    it('the sweep settles a child whose parent ended without settling it (a crash between the two)', async () => {
      const p = job();
      const kid = child([p.id]);
      await svc.submission.submitMany('t1', null, [p, kid]);
      // The parent ends behind the lifecycle's back, as if the process died right after its commit.
      await h.db.query(`update jobs set status = 'completed', finished_at = now() where tenant_id = 't1' and id = $1`, [p.id]);
      expect(await status(kid.id)).toBe('pending');
      expect(await svc.maintenance.settleFlows()).toBeGreaterThanOrEqual(1);
      expect(await status(kid.id)).toBe('queued');
      expect((await claimIds()).map((x) => x.jobId)).toEqual([kid.id]);
    });
  });
}
