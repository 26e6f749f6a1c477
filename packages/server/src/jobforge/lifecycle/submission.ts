import { AppError, JobRequest, ValidationError, canonicalHash, parseOrThrow, type JobResponse } from '@controlplane/contracts';
import type { Sql } from '../../storage/index.js';
import { GroupCommit, withTenant } from '../../storage/index.js';
import { readyEntryOf, toJobResponse, type JobRow, type ReadyEntry } from '../job-row.js';
import type { NewJob } from '../store-records.js';
import { DEFAULT_POOL } from '../job-types.js';
import { checkJobQuota, payloadBytesOf } from './quota-checks.js';
import type { JobFlows } from './flows.js';
import type { JobTransitions } from './transitions.js';

/**
 * Submission: a client's jobs validated (contract and job-type input schema), checked against the
 * tenant's quotas and inserted — the `submit` transition — then handed to the queue after commit.
 * The same id with the same request is idempotent; with another request it is a conflict.
 */
export class JobSubmission {
  readonly #maxBatch: number;
  /** One group committer per tenant: each group is one statement in that tenant's data scope. */
  readonly #groups = new Map<string, GroupCommit<NewJob, JobRow | undefined>>();

  constructor(
    private readonly t: JobTransitions,
    private readonly flows: JobFlows,
  ) {
    this.#maxBatch = t.o.maxBatchSize ?? 1000;
  }

  async submit(tenantId: string, actor: string | null, body: unknown): Promise<JobResponse> {
    const [res] = await this.submitMany(tenantId, actor, [body], false);
    return res!;
  }

  /** Submits many jobs in one transaction: all are accepted or none. */
  async submitMany(tenantId: string, actor: string | null, bodies: readonly unknown[], batch = true): Promise<JobResponse[]> {
    return withTenant(tenantId, async () => {
      const { db, store } = this.t.o;
      const newJobs = await this.#validate(tenantId, actor, bodies, batch);
      const quotas = await this.t.quotas.get(tenantId);
      const largestPayload = Math.max(...newJobs.map((j) => payloadBytesOf(j.request.payload)));
      const counted = quotas.maxQueuedJobs !== null;
      // One job is one statement, atomic on its own; a batch needs a transaction so that a
      // conflict on any id leaves none of the others inserted, and so does a counted quota (its
      // per-tenant lock must be held until the insert commits).
      const inFlow = newJobs.some((j) => j.request.dependsOn);
      const single = newJobs.length === 1 && !counted && !inFlow;
      const settled: ReadyEntry[] = [];
      const write = <T>(fn: (q: Sql) => Promise<T>): Promise<T> => (single ? fn(db) : db.transaction(fn));
      const tracing = this.t.o.tracing;
      const run = <T>(fn: (q: Sql) => Promise<T>): Promise<T> =>
        tracing?.enabled
          ? tracing.inSpan(
              'jobforge.store_jobs',
              { attributes: { 'db.system.name': 'postgresql', 'controlplane.jobs': newJobs.length } },
              () => write(fn),
            )
          : write(fn);
      const { rows, inserted } = await run(async (tx) => {
        if (counted || quotas.maxPayloadBytes !== null) await checkJobQuota(tx, tenantId, newJobs.length, largestPayload);
        if (inFlow) await this.flows.prepare(tx, tenantId, newJobs, batch);
        // Single submissions arriving together share one INSERT (one WAL flush for all of them) and
        // one Redis round trip: under load that is what keeps individual submits from queueing
        // behind each commit.
        const inserted = single
          ? await this.#submitGrouped(newJobs[0]!).then((row) => (row ? [row] : []))
          : await store.insertJobs(tx, newJobs);
        if (inFlow) {
          // Children whose parents already ended are settled at once, in this transaction.
          const children = await this.flows.recordEdges(tx, tenantId, inserted);
          settled.push(...(await this.flows.settleIn(tx, tenantId, [], children)));
        }
        const byId = new Map(inserted.map((r) => [r.id, r]));
        const existing = newJobs.filter((j) => !byId.has(j.request.id));
        if (existing.length > 0) {
          for (const row of await store.getJobs(
            tx,
            tenantId,
            existing.map((j) => j.request.id),
          ))
            byId.set(row.id, row);
          for (const j of existing) {
            const row = byId.get(j.request.id);
            // Same id, same request: the earlier submission stands (idempotent). Different request: conflict.
            if (!row || row.request_digest !== j.requestDigest)
              throw new AppError('IDEMPOTENCY_CONFLICT', { params: { id: j.request.id } });
          }
        }
        return { rows: newJobs.map((j) => byId.get(j.request.id)!), inserted };
      });
      // A grouped submission was enqueued with its group.
      const queued = inserted.filter((r) => r.status !== 'pending');
      if (!single) await this.t.enqueue([...queued.map(readyEntryOf), ...settled]);
      for (const r of queued) this.t.emit(r, 'job.queued');
      for (const r of inserted) this.t.o.metrics?.jobsSubmitted.inc({ tenant: r.tenant_id, type: r.type });
      if (!inFlow) return rows.map(toJobResponse);
      // What settling changed (a child queued, failed or cancelled at once) is what the caller sees.
      const now = new Map(
        (
          await withTenant(tenantId, () =>
            store.getJobs(
              db,
              tenantId,
              rows.map((r) => r.id),
            ),
          )
        ).map((r) => [r.id, r]),
      );
      return rows.map((r) => toJobResponse(now.get(r.id) ?? r));
    });
  }

  async #validate(tenantId: string, actor: string | null, bodies: readonly unknown[], batch: boolean): Promise<NewJob[]> {
    if (bodies.length === 0) throw new ValidationError([{ path: ['jobs'], message: 'must contain at least one job' }]);
    if (bodies.length > this.#maxBatch)
      throw new ValidationError([{ path: ['jobs'], message: `must contain at most ${this.#maxBatch} jobs` }]);
    const requests = bodies.map((b, i) => parseOrThrow(JobRequest, b, batch ? ['jobs', i] : []));
    const ids = new Set<string>();
    requests.forEach((r, i) => {
      if (ids.has(r.id))
        throw new ValidationError([{ path: batch ? ['jobs', String(i), 'id'] : ['id'], message: 'duplicates another job in this batch' }]);
      ids.add(r.id);
    });
    const now = Date.now();
    const { jobTypes, db } = this.t.o;
    const contracts = await jobTypes.getManyCached(
      db,
      tenantId,
      requests.map((r) => r.type),
    );
    return requests.map((request, i) => {
      const prefix = batch ? ['jobs', String(i)] : [];
      const contract = contracts.get(request.type);
      jobTypes.validateInput(contract, request.payload.data, [...prefix, 'payload', 'data']);
      if (request.metadata.expiresAt && Date.parse(request.metadata.expiresAt) <= now) {
        throw new ValidationError([{ path: [...prefix, 'metadata', 'expiresAt'], message: 'is in the past' }]);
      }
      const scheduled = request.metadata.scheduledAt ? Date.parse(request.metadata.scheduledAt) : now;
      return {
        tenantId,
        request,
        requestDigest: canonicalHash(request),
        pool: contract?.pool ?? DEFAULT_POOL,
        runAt: new Date(Math.max(now, scheduled)),
        submittedBy: actor,
        traceParent: this.t.o.tracing?.traceparent(),
      };
    });
  }

  /**
   * Inserts and enqueues one job as part of a group (storage/group-commit.ts): the jobs submitted
   * while the tenant's previous group was being written share one INSERT, one commit and one
   * Redis round trip. Each row of a multi-row INSERT … ON CONFLICT DO NOTHING stands on its own
   * (a conflict skips only that row), so grouping changes nothing for any caller except that they
   * share a commit. Answers the row if this call inserted it, nothing if the id already existed.
   */
  #submitGrouped(job: NewJob): Promise<JobRow | undefined> {
    let group = this.#groups.get(job.tenantId);
    if (!group) {
      if (this.#groups.size > 1_000) for (const [t, g] of this.#groups) if (g.idle) this.#groups.delete(t);
      const tenantId = job.tenantId;
      group = new GroupCommit<NewJob, JobRow | undefined>({
        maxBatch: 500,
        lingerMs: this.t.o.submitLingerMs ?? 2,
        keyOf: (j) => j.request.id,
        commit: (jobs) =>
          withTenant(tenantId, async () => {
            const rows = await this.t.o.store.insertJobs(this.t.o.db, jobs);
            await this.t.enqueue(rows.map(readyEntryOf));
            const byId = new Map(rows.map((r) => [r.id, r]));
            return jobs.map((j) => byId.get(j.request.id));
          }),
      });
      this.#groups.set(tenantId, group);
    }
    return group.submit(job);
  }
}
