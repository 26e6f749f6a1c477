import {
  AppError,
  buildErrorEnvelope,
  ValidationError,
  type ErrorDetail,
  type ErrorEnvelope,
  type JobResult,
} from '@controlplane/contracts';
import { JOB_ERROR_SLOTS, JOB_RESULT_SLOTS, openSlots } from '../../keys/index.js';
import { asSystem, withTenant, type Sql } from '../../storage/index.js';
import type { JobRow, ReadyEntry } from '../job-row.js';
import { jobforgeSql as sql } from '../sql.js';
import type { NewJob } from '../store-records.js';
import { jobEvent, SERVICE_NAME, type JobTransitions } from './transitions.js';

interface ParentRow {
  id: string;
  status: string;
  flow_id: string | null;
}

/**
 * Flows: jobs that wait for their parents. A submission names parents (`dependsOn`) that exist in
 * its tenant or come in the same batch; the children wait in `pending` (the defer transition)
 * until their parents end, and are then settled — queued (`ready`), failed (`orphan`) or
 * cancelled — by their parent policy. Settling follows every end of a job that has children, in a
 * transaction of its own right after the end commits; a sweep settles whatever a crash between
 * the two left pending.
 */
export class JobFlows {
  constructor(private readonly t: JobTransitions) {}

  /**
   * Checks a submission's parents and marks each new job waiting or not, with its flow. Parents
   * outside the tenant are not found (the same answer as a parent that does not exist), and a
   * cycle inside the batch is refused: both with the field path of the offending `dependsOn`.
   * The parents found are locked FOR SHARE until the submission commits.
   */
  async prepare(tx: Sql, tenantId: string, jobs: readonly NewJob[], batch: boolean): Promise<void> {
    const path = (i: number, j?: number) => [...(batch ? ['jobs', String(i)] : []), 'dependsOn', ...(j === undefined ? [] : [String(j)])];
    const inBatch = new Map(jobs.map((j, i) => [j.request.id, i]));
    const outside = [...new Set(jobs.flatMap((j) => j.request.dependsOn ?? []).filter((id) => !inBatch.has(id)))];
    const found = new Map<string, ParentRow>();
    if (outside.length > 0) {
      for (const p of (await sql('lock_job_parents').run<ParentRow>(tx, { tenant_id: tenantId, ids: outside })).rows) found.set(p.id, p);
    }
    const problems: ErrorDetail[] = [];
    jobs.forEach((j, i) =>
      (j.request.dependsOn ?? []).forEach((id, k) => {
        if (!inBatch.has(id) && !found.has(id)) problems.push({ path: path(i, k), message: `no job ${id} in this tenant` });
      }),
    );
    if (problems.length > 0) throw new ValidationError(problems);
    // Depth-first over the batch's own edges: a job reached again while still on the path closes a cycle.
    const state = new Map<number, 'open' | 'done'>();
    const flowOf = new Map<number, string | undefined>();
    const visit = (i: number): void => {
      if (state.get(i) === 'done') return;
      if (state.get(i) === 'open') throw new ValidationError([{ path: path(i), message: 'closes a cycle of dependencies' }]);
      state.set(i, 'open');
      const parents = jobs[i]!.request.dependsOn ?? [];
      for (const id of parents) {
        const k = inBatch.get(id);
        if (k !== undefined) visit(k);
      }
      const first = parents[0];
      let flow: string | undefined;
      if (first !== undefined) {
        const k = inBatch.get(first);
        flow = k !== undefined ? (flowOf.get(k) ?? first) : (found.get(first)!.flow_id ?? first);
      }
      flowOf.set(i, flow);
      state.set(i, 'done');
    };
    jobs.forEach((_, i) => visit(i));
    jobs.forEach((j, i) => {
      const parents = j.request.dependsOn;
      if (!parents) return;
      j.flowId = flowOf.get(i);
      // Waiting unless every parent already completed; one that failed is settled right after the insert.
      j.waiting = true;
    });
  }

  /** Records the edges of the jobs a submission inserted. */
  async recordEdges(tx: Sql, tenantId: string, inserted: readonly JobRow[]): Promise<string[]> {
    const edges = inserted.flatMap((r) =>
      (r.request.dependsOn ?? []).map((p) => ({ child_id: r.id, parent_id: p, policy: r.request.parentPolicy ?? 'fail' })),
    );
    if (edges.length === 0) return [];
    await sql('insert_dependencies').run(tx, { tenant_id: tenantId, edges: JSON.stringify(edges) });
    return [...new Set(edges.map((e) => e.child_id))];
  }

  /**
   * Settles pending children: of `parentIds` (jobs that ended) and `childIds` (looked at
   * directly), cascading to the children of those it fails or cancels. Returns the jobs it
   * queued, for the dispatch queue once the transaction commits.
   */
  async settleIn(tx: Sql, tenantId: string, parentIds: readonly string[], childIds: readonly string[] = []): Promise<ReadyEntry[]> {
    const ready: ReadyEntry[] = [];
    let parents = [...parentIds];
    let children = [...childIds];
    for (let depth = 0; (parents.length > 0 || children.length > 0) && depth < 10_000; depth++) {
      const locked = (
        await sql('lock_pending_children').run<{ id: string }>(tx, { tenant_id: tenantId, parent_ids: parents, child_ids: children })
      ).rows.map((r) => r.id);
      if (locked.length === 0) break;
      const outcomes = (
        await sql('parent_outcomes').run<{ id: string; outcome: string | null; failed_parents: string[] | null }>(tx, {
          tenant_id: tenantId,
          ids: locked,
        })
      ).rows;
      const ended: string[] = [];
      const toQueue = outcomes.filter((o) => o.outcome === 'ready').map((o) => o.id);
      if (toQueue.length > 0) {
        const rows = (
          await sql('move_to_queued_on_ready').run<Pick<JobRow, 'tenant_id' | 'id' | 'pool' | 'type' | 'priority' | 'run_at'>>(tx, {
            tenant_id: tenantId,
            ids: toQueue,
          })
        ).rows;
        for (const r of rows) {
          ready.push({ tenantId: r.tenant_id, pool: r.pool, type: r.type, id: r.id, priority: r.priority, runAt: r.run_at.getTime() });
          this.t.emit(r, 'job.queued');
        }
      }
      for (const o of outcomes) {
        if (o.outcome !== 'orphan' && o.outcome !== 'cancel') continue;
        const row = (await this.t.store.getJob(tx, tenantId, o.id))!;
        const data = { parents: o.failed_parents ?? [] };
        if (o.outcome === 'cancel') {
          this.t.emit(await this.t.cancel(tx, row, data), 'job.cancelled');
        } else {
          const details = (o.failed_parents ?? []).map((id) => ({ path: ['dependsOn'], message: `parent ${id} failed or was cancelled` }));
          const error = buildErrorEnvelope(new AppError('PARENT_FAILED', { details }), { service: SERVICE_NAME });
          const done = await this.t.store.moveToFailed(tx, tenantId, o.id, error, null);
          await this.t.store.appendEvents(tx, [jobEvent(done, 'job.failed', { code: 'PARENT_FAILED', ...data })]);
          this.t.emit(done, 'job.failed');
        }
        ended.push(o.id);
      }
      parents = ended;
      children = [];
    }
    return ready;
  }

  /** Settles the children of jobs that ended in a committed transaction, then queues those made ready. */
  async settleEnded(tenantId: string, parentIds: readonly string[]): Promise<void> {
    if (parentIds.length === 0) return;
    await withTenant(tenantId, async () => {
      const ready = await this.t.o.db.transaction((tx) => this.settleIn(tx, tenantId, parentIds));
      await this.t.enqueue(ready);
    });
  }

  /** Settles pending children whose parents ended without their settling (a crash between the two). */
  async sweep(limit = 500): Promise<number> {
    const rows = await asSystem(
      'settle flow children',
      async () => (await sql('pending_children_to_settle').run<{ tenant_id: string; id: string }>(this.t.o.db, { limit })).rows,
    );
    const byTenant = new Map<string, string[]>();
    for (const r of rows) byTenant.set(r.tenant_id, [...(byTenant.get(r.tenant_id) ?? []), r.id]);
    for (const [tenantId, ids] of byTenant) {
      await withTenant(tenantId, async () => {
        const ready = await this.t.o.db.transaction((tx) => this.settleIn(tx, tenantId, [], ids));
        await this.t.enqueue(ready);
      });
    }
    return rows.length;
  }

  /**
   * The results of the parents of a job the runner holds a lease on (a fan-in job sees all of
   * them), decrypted as their tenant's — which is the runner's. A runner that does not hold the
   * lease (another runner, another tenant, a stale token) gets LEASE_NOT_HELD.
   */
  async parentResults(
    runner: { id: string; tenantId: string },
    ref: { jobId: string; leaseId: string; fencingToken: string },
  ): Promise<Array<{ id: string; type: string; status: string; result: JobResult | null; error: ErrorEnvelope | null }>> {
    return withTenant(runner.tenantId, async () => {
      const { db, store } = this.t.o;
      const holder = await sql('lease_holder').run<{ lease_runner_id: string }>(db, {
        tenant_id: runner.tenantId,
        id: ref.jobId,
        lease_id: ref.leaseId,
        fencing_token: ref.fencingToken,
      });
      if (holder.rows[0]?.lease_runner_id !== runner.id) throw new AppError('LEASE_NOT_HELD');
      const rows = (
        await sql('parent_results').run<Pick<JobRow, 'id' | 'type' | 'status' | 'result' | 'error'>>(db, {
          tenant_id: runner.tenantId,
          id: ref.jobId,
          runner_id: runner.id,
          lease_id: ref.leaseId,
          fencing_token: ref.fencingToken,
        })
      ).rows;
      const cipher = store.cipher;
      if (!cipher) return rows;
      return Promise.all(
        rows.map(async (r) => {
          const at = { tenantId: runner.tenantId, table: 'jobs', rowId: r.id };
          const [result, error] = await Promise.all([
            openSlots(cipher, at, r.result, JOB_RESULT_SLOTS),
            openSlots(cipher, at, r.error, JOB_ERROR_SLOTS),
          ]);
          return { ...r, result, error };
        }),
      );
    });
  }

  /** A job's parents and children. */
  async relatives(q: Sql, tenantId: string, id: string): Promise<{ parents: string[]; children: string[] }> {
    const rows = (await sql('job_relatives').run<{ relation: string; id: string }>(q, { tenant_id: tenantId, id })).rows;
    return {
      parents: rows.filter((r) => r.relation === 'parent').map((r) => r.id),
      children: rows.filter((r) => r.relation === 'child').map((r) => r.id),
    };
  }
}
