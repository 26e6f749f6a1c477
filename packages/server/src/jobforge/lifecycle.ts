import {
  AppError,
  JobRequest,
  ValidationError,
  buildErrorEnvelope,
  canonicalHash,
  parseOrThrow,
  type ErrorCategory,
  type ErrorDetail,
  type ErrorEnvelope,
  type JobEventType,
  type JobResponse,
  type JobResult,
  type JobStatus,
} from '@controlplane/contracts';
import { resultDigest, type Logger, type ResultSignatureFields } from '@controlplane/platform';
import type { Database, Sql } from '../storage/index.js';
import { envelopeOf, type JobEnvelope } from './job-envelope.js';
import { readyEntryOf, toJobResponse, type JobRow, type ReadyEntry } from './job-row.js';
import {
  RunnerMayNotClaimError,
  type JobEventRecord,
  type JobStore,
  type LeaseRef,
  type ListJobsFilter,
  type NewJob,
  type StoredJobEvent,
} from './job-store.js';
import { DEFAULT_POOL, type JobTypeRegistry } from './job-types.js';
import type { QueueBackend } from './queue/queue-backend.js';
import { decideRetry } from './retry-policy.js';
import { checkJobQuota, getTenantQuotas, payloadBytesOf, runningJobHeadroom, type TenantQuotas } from '../tenancy/index.js';
import { asSystem, withTenant } from '../storage/data-scope.js';
import { GroupCommit } from '../storage/group-commit.js';
import { refreshTableStatistics, type StatisticsRefresh } from '../storage/table-statistics.js';

const QUOTA_CACHE_MS = 2_000;

export const SERVICE_NAME = 'jobforge';

/** The tables every job writes to: the ones whose planner statistics must follow their growth. */
const JOB_TABLES = ['jobs', 'job_events', 'job_attempts', 'result_outbox'] as const;

/** A runner as the control plane knows it: identity from its certificate, types from registration. */
export interface RunnerIdentity {
  id: string;
  tenantId: string;
  pool: string;
  /** Job types the runner registered; claims are limited to these. */
  jobTypes: readonly string[];
  version?: string | undefined;
  /**
   * Serial number of the certificate the runner presented on this request. Given, leasing checks
   * in the same statement that the runner may still be given work (LeaseGrant.certificateSerial).
   */
  certificateSerial?: string | undefined;
}

export interface JobEventListener {
  (tenantId: string, jobId: string, type: JobEventType): void;
}

export interface JobServiceOptions {
  db: Database;
  store: JobStore;
  queue: QueueBackend;
  jobTypes: JobTypeRegistry;
  logger: Logger;
  /** How long a claim's lease lasts before it must be renewed by a heartbeat. */
  leaseMs?: number;
  maxBatchSize?: number;
  onEvent?: JobEventListener;
  /** Refuse outcomes that carry no runner signature (on in every server; off for unit tests). */
  requireResultProof?: boolean;
  /**
   * How long a single submission may wait for others to share its INSERT and commit (see
   * GroupCommit's lingerMs). Default 2 ms.
   */
  submitLingerMs?: number;
}

export interface ClaimOptions {
  max: number;
  waitMs: number;
  /** Types the runner asks for; intersected with what it registered. */
  types?: readonly string[] | undefined;
  signal?: AbortSignal | undefined;
}

export interface FailureInput {
  category: ErrorCategory;
  code?: string | undefined;
  message: string;
  retryable: boolean;
  details?: ErrorDetail[] | undefined;
}

/**
 * Proof that the runner produced an outcome: its signature, and a check of that signature
 * against the certificate the runner presented on this connection.
 */
export interface ResultProof {
  signature: string;
  certFingerprint: string;
  verify(fields: ResultSignatureFields): boolean;
}

export interface CompletionItem {
  ref: LeaseRef;
  data?: unknown;
  startedAt?: string | undefined;
  proof?: ResultProof | undefined;
  /** The attempt and job type of the lease, as the runner received them (enables the fast path). */
  attempt?: number | undefined;
  type?: string | undefined;
}

export interface OutcomeAck {
  jobId: string;
  status: JobStatus;
  /** True when this exact outcome had already been recorded (a re-sent result). */
  duplicate: boolean;
}

/**
 * The job lifecycle. PostgreSQL is the record; the queue backend is told about ready jobs only
 * after the transaction that made them ready commits, so a crash can lose a queue entry (which
 * reconciliation restores) but never a job.
 */
export class JobService {
  readonly leaseMs: number;
  readonly #maxBatch: number;

  constructor(private readonly o: JobServiceOptions) {
    this.leaseMs = o.leaseMs ?? 30_000;
    this.#maxBatch = o.maxBatchSize ?? 1000;
  }

  get queue(): QueueBackend {
    return this.o.queue;
  }

  // ---------------------------------------------------------------- submission

  async submit(tenantId: string, actor: string | null, body: unknown): Promise<JobResponse> {
    const [res] = await this.submitMany(tenantId, actor, [body], false);
    return res!;
  }

  /** Submits many jobs in one transaction: all are accepted or none. */
  async submitMany(tenantId: string, actor: string | null, bodies: readonly unknown[], batch = true): Promise<JobResponse[]> {
    return withTenant(tenantId, async () => {
      if (bodies.length === 0) throw new ValidationError([{ path: 'jobs', message: 'must contain at least one job' }]);
      if (bodies.length > this.#maxBatch)
        throw new ValidationError([{ path: 'jobs', message: `must contain at most ${this.#maxBatch} jobs` }]);
      const requests = bodies.map((b, i) => parseOrThrow(JobRequest, b, batch ? ['jobs', i] : []));
      const ids = new Set<string>();
      requests.forEach((r, i) => {
        if (ids.has(r.id))
          throw new ValidationError([{ path: batch ? `jobs[${i}].id` : 'id', message: 'duplicates another job in this batch' }]);
        ids.add(r.id);
      });

      const now = Date.now();
      const contracts = await this.o.jobTypes.getManyCached(
        this.o.db,
        tenantId,
        requests.map((r) => r.type),
      );
      const newJobs: NewJob[] = requests.map((request, i) => {
        const prefix = batch ? `jobs[${i}].` : '';
        const contract = contracts.get(request.type);
        this.o.jobTypes.validateInput(contract, request.payload.data, `${prefix}payload.data`);
        if (request.metadata.expiresAt && Date.parse(request.metadata.expiresAt) <= now) {
          throw new ValidationError([{ path: `${prefix}metadata.expiresAt`, message: 'is in the past' }]);
        }
        const scheduled = request.metadata.scheduledAt ? Date.parse(request.metadata.scheduledAt) : now;
        return {
          tenantId,
          request,
          requestDigest: canonicalHash(request),
          pool: contract?.pool ?? DEFAULT_POOL,
          runAt: new Date(Math.max(now, scheduled)),
          submittedBy: actor,
        };
      });

      const quotas = await this.#quotas(tenantId);
      const largestPayload = Math.max(...requests.map((r) => payloadBytesOf(r.payload)));
      const counted = quotas.maxQueuedJobs !== null;
      // One job is one statement, atomic on its own; a batch needs a transaction so that a
      // conflict on any id leaves none of the others inserted, and so does a counted quota (its
      // per-tenant lock must be held until the insert commits).
      const single = newJobs.length === 1 && !counted;
      const run = <T>(fn: (q: Sql) => Promise<T>): Promise<T> => (single ? fn(this.o.db) : this.o.db.transaction(fn));
      const { rows, inserted } = await run(async (tx) => {
        if (counted || quotas.maxPayloadBytes !== null) await checkJobQuota(tx, tenantId, newJobs.length, largestPayload);
        // Single submissions arriving together share one INSERT (one WAL flush for all of them) and
        // one Redis round trip: under load that is what keeps individual submits from queueing
        // behind each commit.
        const inserted = single
          ? await this.#submitGrouped(newJobs[0]!).then((row) => (row ? [row] : []))
          : await this.o.store.insertJobs(tx, newJobs);
        const insertedIds = new Set(inserted.map((r) => r.id));
        const existing = newJobs.filter((j) => !insertedIds.has(j.request.id));
        const byId = new Map(inserted.map((r) => [r.id, r]));
        if (existing.length > 0) {
          for (const row of await this.o.store.getJobs(
            tx,
            tenantId,
            existing.map((j) => j.request.id),
          ))
            byId.set(row.id, row);
          for (const j of existing) {
            const row = byId.get(j.request.id);
            // Same id, same request: the earlier submission stands (idempotent). Different request: conflict.
            if (!row || row.request_digest !== j.requestDigest) {
              throw new AppError('IDEMPOTENCY_CONFLICT', { params: { id: j.request.id } });
            }
          }
        }
        return { rows: newJobs.map((j) => byId.get(j.request.id)!), inserted };
      });
      // A grouped submission was enqueued with its group.
      if (!single) await this.#enqueue(inserted.map(readyEntryOf));
      for (const r of inserted) this.#emit(r, 'job.queued');
      return rows.map(toJobResponse);
    });
  }

  // ---------------------------------------------------------------- reads

  async get(tenantId: string, id: string): Promise<JobResponse> {
    return withTenant(tenantId, async () => {
      const row = await this.o.store.getJob(this.o.db, tenantId, id);
      if (!row) throw new AppError('JOB_NOT_FOUND', { params: { jobId: id } });
      return toJobResponse(row);
    });
  }

  async getRow(tenantId: string, id: string): Promise<JobRow> {
    return withTenant(tenantId, async () => {
      const row = await this.o.store.getJob(this.o.db, tenantId, id);
      if (!row) throw new AppError('JOB_NOT_FOUND', { params: { jobId: id } });
      return row;
    });
  }

  async list(tenantId: string, filter: ListJobsFilter): Promise<JobRow[]> {
    return withTenant(tenantId, async () => {
      return this.o.store.listJobs(this.o.db, tenantId, filter);
    });
  }

  async events(tenantId: string, jobId: string, afterSeq: string): Promise<StoredJobEvent[]> {
    return withTenant(tenantId, async () => {
      return this.o.store.listEvents(this.o.db, tenantId, jobId, afterSeq);
    });
  }

  async attempts(tenantId: string, jobId: string): Promise<Record<string, unknown>[]> {
    return withTenant(tenantId, async () => {
      return this.o.store.listAttempts(this.o.db, tenantId, jobId);
    });
  }

  // ---------------------------------------------------------------- operator actions

  async cancel(tenantId: string, id: string): Promise<JobResponse> {
    return withTenant(tenantId, async () => {
      let removed: ReadyEntry | undefined;
      const row = await this.o.db.transaction(async (tx) => {
        const row = await this.o.store.getJob(tx, tenantId, id, true);
        if (!row) throw new AppError('JOB_NOT_FOUND', { params: { jobId: id } });
        switch (row.status) {
          case 'pending':
          case 'queued':
          case 'retrying': {
            const done = await this.o.store.markTerminal(tx, tenantId, id, 'cancelled', this.#envelope('JOB_CANCELLED'), null, false);
            await this.o.store.appendEvents(tx, [ev(done, 'job.cancelled', { by: 'operator' })]);
            removed = readyEntryOf(row);
            return done;
          }
          case 'running':
            // The runner learns of it on its next heartbeat and stops the handler; the job becomes
            // `cancelled` when the runner reports back or its lease runs out.
            await this.o.store.requestCancel(tx, tenantId, id);
            return (await this.o.store.getJob(tx, tenantId, id))!;
          case 'cancelled':
            return row;
          default:
            throw new AppError('INVALID_STATE', {
              params: { resource: 'job', state: row.status, expected: 'queued, retrying or running' },
            });
        }
      });
      if (removed) {
        await this.o.queue
          .remove([removed])
          .catch((err: unknown) => this.o.logger.warn({ err }, 'queue remove failed; the stale entry will be skipped at claim'));
        this.#emit(row, 'job.cancelled');
      }
      return toJobResponse(row);
    });
  }

  /** Re-drives a failed (dead-lettered) or cancelled job with a fresh retry budget. */
  async retry(tenantId: string, id: string): Promise<JobResponse> {
    return withTenant(tenantId, async () => {
      const row = await this.o.db.transaction(async (tx) => {
        const row = await this.o.store.getJob(tx, tenantId, id, true);
        if (!row) throw new AppError('JOB_NOT_FOUND', { params: { jobId: id } });
        if (row.status !== 'failed' && row.status !== 'cancelled') {
          throw new AppError('INVALID_STATE', { params: { resource: 'job', state: row.status, expected: 'failed or cancelled' } });
        }
        const next = await this.o.store.requeue(tx, tenantId, id);
        await this.o.store.appendEvents(tx, [ev(next, 'job.queued', { redrive: true })]);
        return next;
      });
      await this.#enqueue([readyEntryOf(row)]);
      this.#emit(row, 'job.queued');
      return toJobResponse(row);
    });
  }

  // ---------------------------------------------------------------- runner protocol

  /** Long-polls for up to `max` jobs of the runner's tenant, pool and registered types. */
  async claim(runner: RunnerIdentity, opts: ClaimOptions): Promise<JobEnvelope[]> {
    return withTenant(runner.tenantId, async () => {
      const registered = new Set(runner.jobTypes);
      const types = opts.types ? opts.types.filter((t) => registered.has(t)) : [...registered];
      if (types.length === 0) return [];
      const wanted = Math.max(1, Math.min(opts.max, 500));
      const deadline = Date.now() + Math.max(0, Math.min(opts.waitMs, 60_000));
      for (;;) {
        // A tenant over its running-jobs quota gets nothing now; its jobs wait their turn.
        const limited = (await this.#quotas(runner.tenantId)).maxRunningJobs !== null;
        const max = limited ? Math.min(wanted, await runningJobHeadroom(this.o.db, runner.tenantId)) : wanted;
        let rows: JobRow[] = [];
        try {
          // With the runner's certificate serial, the lease statement itself checks that the
          // runner may still be given work: one that began to drain or was revoked while this
          // long-poll waited leases nothing, and the poll ends empty.
          if (max > 0)
            rows = await this.o.queue.claim({
              tenantId: runner.tenantId,
              pool: runner.pool,
              types,
              max,
              grant: { runnerId: runner.id, leaseMs: this.leaseMs, certificateSerial: runner.certificateSerial },
            });
        } catch (err) {
          if (err instanceof RunnerMayNotClaimError) return [];
          throw err;
        }
        if (rows.length > 0) {
          for (const r of rows) this.#emit(r, 'job.started');
          return rows.map(envelopeOf);
        }
        const left = deadline - Date.now();
        if (left <= 0 || opts.signal?.aborted) return [];
        await this.o.queue.waitForWork(runner.tenantId, runner.pool, left, opts.signal);
        if (opts.signal?.aborted) return [];
      }
    });
  }

  /** Extends the runner's leases; answers which of its jobs are cancelled or no longer its own. */
  /**
   * `draining`: the runner is shutting down and lists every job it still runs. Leases it holds but
   * does not list were granted to a claim whose answer it never processed (the claim was cut off
   * by the shutdown); they are handed back now instead of waiting for their leases to run out.
   */
  async heartbeat(
    runner: RunnerIdentity,
    leases: readonly LeaseRef[],
    options: { draining?: boolean } = {},
  ): Promise<{ extended: string[]; cancel: string[]; lost: string[]; leaseExpiresAt: string }> {
    return withTenant(runner.tenantId, async () => {
      const extended = await this.o.store.extendLeases(this.o.db, runner.tenantId, runner.id, leases, this.leaseMs);
      const ok = new Set(extended.map((e) => e.id));
      if (options.draining) {
        const listed = new Set(leases.map((l) => l.jobId));
        for (const held of await this.o.store.leasesOf(this.o.db, runner.tenantId, runner.id)) {
          if (!listed.has(held.jobId)) await this.release(runner, held).catch(() => undefined);
        }
      }
      return {
        extended: [...ok],
        cancel: extended.filter((e) => e.cancel_requested).map((e) => e.id),
        lost: leases.filter((l) => !ok.has(l.jobId)).map((l) => l.jobId),
        leaseExpiresAt: new Date(Date.now() + this.leaseMs).toISOString(),
      };
    });
  }

  async progress(
    runner: RunnerIdentity,
    ref: LeaseRef,
    data: { pct?: number | undefined; message?: string | undefined },
  ): Promise<{ cancel: boolean }> {
    return withTenant(runner.tenantId, async () => {
      return this.o.db.transaction(async (tx) => {
        const row = await this.#leased(tx, runner, ref);
        await this.o.store.appendEvents(tx, [
          ev(row, 'job.progress', {
            ...(data.pct !== undefined ? { pct: data.pct } : {}),
            ...(data.message ? { message: data.message } : {}),
          }),
        ]);
        this.#emit(row, 'job.progress');
        return { cancel: row.cancel_requested_at !== null };
      });
    });
  }

  /** Records a successful outcome exactly once; a re-send of the same outcome is acknowledged. */
  async complete(runner: RunnerIdentity, ref: LeaseRef, output: Omit<CompletionItem, 'ref'>): Promise<OutcomeAck> {
    const [res] = await this.completeMany(runner, [{ ref, ...output }]);
    if (res && 'error' in res) throw res.error;
    return res!;
  }

  /**
   * Completes many leased jobs in one transaction with set-based statements: the path a busy
   * runner uses. Each item is judged on its own; one refused item does not fail the others.
   */
  async completeMany(
    runner: RunnerIdentity,
    items: ReadonlyArray<CompletionItem>,
  ): Promise<Array<OutcomeAck | { jobId: string; error: AppError }>> {
    return withTenant(runner.tenantId, async () => {
      if (items.length === 0) return [];
      const results = new Map<string, OutcomeAck | { jobId: string; error: AppError }>();
      // Fast path: the runner told us the attempt and type it was leased, so the signature and the
      // output schema can be checked before touching the database, and one statement (whose WHERE
      // re-checks lease, token, attempt and type) records every good outcome. Anything else —
      // no attempt/type given, an output that fails its schema, a lease no longer held — takes the
      // locking path below.
      const slow: CompletionItem[] = [];
      const fast: Array<{ item: CompletionItem; attempt: number }> = [];
      const contracts = await this.o.jobTypes.getManyCached(this.o.db, runner.tenantId, [
        ...new Set(items.flatMap((i) => (i.type ? [i.type] : []))),
      ]);
      for (const item of items) {
        if (item.attempt === undefined || item.type === undefined) {
          slow.push(item);
          continue;
        }
        try {
          this.#checkProofFields(
            { jobId: item.ref.jobId, tenantId: runner.tenantId, attempt: item.attempt, fencingToken: item.ref.fencingToken },
            'completed',
            item.data,
            item.proof,
          );
        } catch (err) {
          results.set(item.ref.jobId, { jobId: item.ref.jobId, error: err as AppError });
          continue;
        }
        if (this.o.jobTypes.outputProblems(contracts.get(item.type), item.data).length > 0) slow.push(item);
        else fast.push({ item, attempt: item.attempt });
      }
      if (fast.length > 0) {
        const now = Date.now();
        const done = new Set(
          await this.o.store.recordCompletionsIfLeased(
            this.o.db,
            runner.tenantId,
            runner.id,
            fast.map(({ item, attempt }) => ({
              id: item.ref.jobId,
              leaseId: item.ref.leaseId,
              fencingToken: item.ref.fencingToken,
              type: item.type!,
              attempt,
              runnerId: runner.id,
              signature: item.proof?.signature ?? null,
              certFingerprint: item.proof?.certFingerprint ?? null,
              result: this.#successResult(runner, attempt, item, now, undefined),
            })),
          ),
        );
        for (const { item } of fast) {
          if (done.has(item.ref.jobId)) results.set(item.ref.jobId, { jobId: item.ref.jobId, status: 'completed', duplicate: false });
          else slow.push(item);
        }
      }
      if (slow.length > 0) await this.#completeLocked(runner, slow, results);
      for (const [id, r] of results)
        if ('status' in r && r.status === 'completed' && !r.duplicate) this.o.onEvent?.(runner.tenantId, id, 'job.completed');
      return items.map((i) => results.get(i.ref.jobId) ?? { jobId: i.ref.jobId, error: new AppError('LEASE_NOT_HELD') });
    });
  }

  #successResult(runner: RunnerIdentity, attempt: number, item: CompletionItem, now: number, leasedAt: Date | undefined): JobResult {
    const started = item.startedAt ? Date.parse(item.startedAt) : (leasedAt?.getTime() ?? now);
    return {
      success: true,
      ...(item.data !== undefined ? { data: item.data as JobResult['data'] } : {}),
      metadata: {
        ...(item.startedAt ? { startedAt: item.startedAt } : {}),
        completedAt: new Date(now).toISOString(),
        durationMs: Math.max(0, now - started),
        attempts: attempt,
        runnerId: runner.id,
        ...(runner.version ? { runnerVersion: runner.version } : {}),
      },
    };
  }

  /** The locking path: each outcome is checked against its locked row inside one transaction. */
  async #completeLocked(
    runner: RunnerIdentity,
    items: readonly CompletionItem[],
    results: Map<string, OutcomeAck | { jobId: string; error: AppError }>,
  ): Promise<void> {
    const retries: ReadyEntry[] = [];
    await this.o.db.transaction(async (tx) => {
      const rows = await this.o.store.lockLeasedJobs(
        tx,
        runner.tenantId,
        runner.id,
        items.map((i) => i.ref),
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      const contracts = await this.o.jobTypes.getMany(tx, runner.tenantId, [...new Set(rows.map((r) => r.type))]);
      const good: Array<{ row: JobRow; item: (typeof items)[number] }> = [];
      for (const item of items) {
        const row = byId.get(item.ref.jobId);
        if (!row) {
          try {
            results.set(item.ref.jobId, await this.#duplicateOrRefuse(tx, runner, item.ref, 'completed'));
          } catch (err) {
            results.set(item.ref.jobId, { jobId: item.ref.jobId, error: err as AppError });
          }
          continue;
        }
        if ((item.attempt !== undefined && item.attempt !== row.attempts) || (item.type !== undefined && item.type !== row.type)) {
          // The runner names another attempt or type than the lease it holds: not its lease.
          results.set(row.id, { jobId: row.id, error: new AppError('LEASE_NOT_HELD') });
          continue;
        }
        try {
          this.#checkProof(row, 'completed', item.data, item.proof);
        } catch (err) {
          results.set(row.id, { jobId: row.id, error: err as AppError });
          continue;
        }
        const problems = this.o.jobTypes.outputProblems(contracts.get(row.type), item.data);
        if (problems.length > 0) {
          const failed = await this.#recordFailure(
            tx,
            row,
            {
              category: 'SCHEMA_MISMATCH',
              code: 'SCHEMA_MISMATCH',
              message: `The result does not match the output schema of job type ${row.type}.`,
              retryable: false,
              details: problems,
            },
            runner,
            false,
            item.proof,
          );
          if (failed.retry) retries.push(failed.retry);
          results.set(row.id, { jobId: row.id, status: failed.row.status, duplicate: false });
          continue;
        }
        good.push({ row, item });
      }
      const now = Date.now();
      // The rows are locked and checked; the statement's lease re-checks hold trivially here.
      const done = await this.o.store.recordCompletionsIfLeased(
        tx,
        runner.tenantId,
        runner.id,
        good.map(({ row, item }) => ({
          id: row.id,
          leaseId: row.lease_id!,
          fencingToken: row.fencing_token!,
          type: row.type,
          attempt: row.attempts,
          runnerId: runner.id,
          signature: item.proof?.signature ?? null,
          certFingerprint: item.proof?.certFingerprint ?? null,
          result: this.#successResult(runner, row.attempts, item, now, row.updated_at),
        })),
      );
      for (const id of done) results.set(id, { jobId: id, status: 'completed', duplicate: false });
    });
    await this.#enqueue(retries);
  }

  /** Records a failed attempt: retried per the job's policy, or failed and dead-lettered. */
  async fail(runner: RunnerIdentity, ref: LeaseRef, failure: FailureInput, proof?: ResultProof): Promise<OutcomeAck> {
    return withTenant(runner.tenantId, async () => {
      let retryEntry: ReadyEntry | undefined;
      const ack = await this.o.db.transaction(async (tx): Promise<OutcomeAck> => {
        const row = await this.o.store.lockLeasedJob(tx, runner.tenantId, runner.id, ref);
        if (!row) return this.#duplicateOrRefuse(tx, runner, ref, 'failed');
        this.#checkProof(row, 'failed', failure, proof);
        const out = await this.#recordFailure(tx, row, failure, runner, false, proof);
        // A signed failure is a result like a completion: TruthCore gets it, with its signature.
        if (proof)
          await this.o.store.queueFailedResult(
            tx,
            row.tenant_id,
            row.id,
            row.attempts,
            { fencingToken: row.fencing_token!, runnerId: runner.id },
            proof,
            failure,
          );
        retryEntry = out.retry;
        return { jobId: row.id, status: out.row.status, duplicate: false };
      });
      if (retryEntry) await this.#enqueue([retryEntry]);
      return ack;
    });
  }

  /** A draining runner hands a job back: it is queued again at once without using a retry. */
  async release(runner: RunnerIdentity, ref: LeaseRef): Promise<OutcomeAck> {
    return withTenant(runner.tenantId, async () => {
      let entry: ReadyEntry | undefined;
      const ack = await this.o.db.transaction(async (tx): Promise<OutcomeAck> => {
        const row = await this.o.store.lockLeasedJob(tx, runner.tenantId, runner.id, ref);
        if (!row) return this.#duplicateOrRefuse(tx, runner, ref, 'released');
        await this.o.store.finishAttempt(tx, row.tenant_id, row.id, row.attempts, 'released', null);
        if (row.cancel_requested_at) {
          const done = await this.o.store.markTerminal(
            tx,
            row.tenant_id,
            row.id,
            'cancelled',
            this.#envelope('JOB_CANCELLED'),
            null,
            false,
          );
          await this.o.store.appendEvents(tx, [ev(done, 'job.cancelled')]);
          return { jobId: row.id, status: 'cancelled', duplicate: false };
        }
        const next = await this.o.store.releaseLease(tx, row.tenant_id, row.id);
        await this.o.store.appendEvents(tx, [ev(next, 'job.queued', { released: true })]);
        entry = readyEntryOf(next);
        return { jobId: row.id, status: 'queued', duplicate: false };
      });
      if (entry) await this.#enqueue([entry]);
      return ack;
    });
  }

  // ---------------------------------------------------------------- periodic duties

  /** Retries or fails running jobs whose lease ran out (their runner died or hung). */
  async reapExpiredLeases(limit = 500): Promise<number> {
    return asSystem('reap expired leases', async () => {
      const retries: ReadyEntry[] = [];
      const n = await this.o.db.transaction(async (tx) => {
        const rows = await this.o.store.lockExpiredLeases(tx, limit);
        for (const row of rows) {
          await this.o.store.finishAttempt(tx, row.tenant_id, row.id, row.attempts, 'lease_expired', null);
          if (row.cancel_requested_at) {
            const done = await this.o.store.markTerminal(
              tx,
              row.tenant_id,
              row.id,
              'cancelled',
              this.#envelope('JOB_CANCELLED'),
              null,
              false,
            );
            await this.o.store.appendEvents(tx, [ev(done, 'job.cancelled')]);
            continue;
          }
          const out = await this.#recordFailure(
            tx,
            row,
            {
              category: 'RUNNER_ERROR',
              code: 'LEASE_EXPIRED',
              message: 'The runner holding the job stopped renewing its lease.',
              retryable: true,
            },
            undefined,
            true,
          );
          if (out.retry) retries.push(out.retry);
        }
        return rows.length;
      });
      await this.#enqueue(retries);
      if (n > 0) this.o.logger.info({ count: n }, 'reclaimed expired leases');
      return n;
    });
  }

  /** Analyses the job tables that changed enough since their last analysis, where autovacuum does not (storage/table-statistics.ts). */
  refreshStatistics(): Promise<StatisticsRefresh> {
    return asSystem('refresh planner statistics', () => refreshTableStatistics(this.o.db, JOB_TABLES));
  }

  /** Fails waiting jobs whose expiresAt has passed. */
  async expireJobs(limit = 500): Promise<number> {
    return asSystem('expire jobs', async () => {
      const removed: ReadyEntry[] = [];
      const n = await this.o.db.transaction(async (tx) => {
        const rows = await this.o.store.lockExpiredJobs(tx, limit);
        for (const row of rows) {
          const done = await this.o.store.markTerminal(tx, row.tenant_id, row.id, 'failed', this.#envelope('JOB_EXPIRED'), null, true);
          await this.o.store.appendEvents(tx, [ev(done, 'job.expired')]);
          removed.push(readyEntryOf(row));
        }
        return rows.length;
      });
      if (removed.length) await this.o.queue.remove(removed).catch(() => undefined);
      return n;
    });
  }

  // ---------------------------------------------------------------- internals

  /** One group committer per tenant: each group is one statement in that tenant's data scope. */
  readonly #submitGroups = new Map<string, GroupCommit<NewJob, JobRow | undefined>>();

  /**
   * Inserts and enqueues one job as part of a group (storage/group-commit.ts): the jobs submitted
   * while the tenant's previous group was being written share one INSERT, one commit and one
   * Redis round trip. Each row of a multi-row INSERT … ON CONFLICT DO NOTHING stands on its own
   * (a conflict skips only that row), so grouping changes nothing for any caller except that they
   * share a commit. Answers the row if this call inserted it, nothing if the id already existed.
   */
  #submitGrouped(job: NewJob): Promise<JobRow | undefined> {
    let group = this.#submitGroups.get(job.tenantId);
    if (!group) {
      if (this.#submitGroups.size > 1_000) for (const [t, g] of this.#submitGroups) if (g.idle) this.#submitGroups.delete(t);
      const tenantId = job.tenantId;
      group = new GroupCommit<NewJob, JobRow | undefined>({
        maxBatch: 500,
        lingerMs: this.o.submitLingerMs ?? 2,
        keyOf: (j) => j.request.id,
        commit: (jobs) =>
          withTenant(tenantId, async () => {
            const rows = await this.o.store.insertJobs(this.o.db, jobs);
            await this.#enqueue(rows.map(readyEntryOf));
            const byId = new Map(rows.map((r) => [r.id, r]));
            return jobs.map((j) => byId.get(j.request.id));
          }),
      });
      this.#submitGroups.set(tenantId, group);
    }
    return group.submit(job);
  }

  readonly #quotaCache = new Map<string, { at: number; quotas: TenantQuotas }>();

  /** Tenant quotas, cached briefly: they are read on every submission and claim and change rarely. */
  async #quotas(tenantId: string): Promise<TenantQuotas> {
    const hit = this.#quotaCache.get(tenantId);
    if (hit && Date.now() - hit.at < QUOTA_CACHE_MS) return hit.quotas;
    const quotas = await getTenantQuotas(this.o.db, tenantId);
    if (this.#quotaCache.size > 10_000) this.#quotaCache.clear();
    this.#quotaCache.set(tenantId, { at: Date.now(), quotas });
    return quotas;
  }

  async #leased(tx: Sql, runner: RunnerIdentity, ref: LeaseRef): Promise<JobRow> {
    const row = await this.o.store.lockLeasedJob(tx, runner.tenantId, runner.id, ref);
    if (!row) throw new AppError('LEASE_NOT_HELD');
    return row;
  }

  async #duplicateOrRefuse(
    tx: Sql,
    runner: RunnerIdentity,
    ref: LeaseRef,
    outcome: 'completed' | 'failed' | 'released',
  ): Promise<OutcomeAck> {
    const prior = await this.o.store.attemptOutcome(tx, runner.tenantId, ref, runner.id);
    if (prior === outcome || (outcome === 'failed' && prior === 'cancelled')) {
      const row = await this.o.store.getJob(tx, runner.tenantId, ref.jobId);
      return { jobId: ref.jobId, status: row?.status ?? 'completed', duplicate: true };
    }
    throw new AppError('LEASE_NOT_HELD');
  }

  #checkProof(row: JobRow, outcome: 'completed' | 'failed', value: unknown, proof: ResultProof | undefined): void {
    this.#checkProofFields(
      { jobId: row.id, tenantId: row.tenant_id, attempt: row.attempts, fencingToken: row.fencing_token! },
      outcome,
      value,
      proof,
    );
  }

  #checkProofFields(
    lease: { jobId: string; tenantId: string; attempt: number; fencingToken: string },
    outcome: 'completed' | 'failed',
    value: unknown,
    proof: ResultProof | undefined,
  ): void {
    if (!proof) {
      if (this.o.requireResultProof)
        throw new AppError('ENVELOPE_SIGNATURE_INVALID', { message: 'The outcome carries no runner signature.' });
      return;
    }
    const fields: ResultSignatureFields = { ...lease, outcome, resultDigest: resultDigest(value) };
    if (!proof.verify(fields)) throw new AppError('ENVELOPE_SIGNATURE_INVALID');
  }

  async #recordFailure(
    tx: Sql,
    row: JobRow,
    failure: FailureInput,
    runner: RunnerIdentity | undefined,
    attemptFinished = false,
    proof?: ResultProof,
  ): Promise<{ row: JobRow; retry?: ReadyEntry }> {
    const envelope: ErrorEnvelope = {
      ...this.#envelope('HANDLER_FAILED'),
      category: failure.category,
      code: failure.code ?? 'HANDLER_FAILED',
      message: failure.message.slice(0, 2000),
      details: failure.details ?? [],
      retryable: failure.retryable,
      ...(row.request.metadata.correlationId ? { correlationId: row.request.metadata.correlationId } : {}),
    };
    if (row.cancel_requested_at) {
      if (!attemptFinished) await this.o.store.finishAttempt(tx, row.tenant_id, row.id, row.attempts, 'cancelled', envelope, proof ?? null);
      const done = await this.o.store.markTerminal(tx, row.tenant_id, row.id, 'cancelled', this.#envelope('JOB_CANCELLED'), null, false);
      await this.o.store.appendEvents(tx, [ev(done, 'job.cancelled')]);
      this.#emit(done, 'job.cancelled');
      return { row: done };
    }
    if (!attemptFinished) await this.o.store.finishAttempt(tx, row.tenant_id, row.id, row.attempts, 'failed', envelope, proof ?? null);
    const decision = decideRetry(row.request.retryPolicy, row.attempts - row.retry_base, envelope);
    if (decision.retry) {
      const next = await this.o.store.markRetrying(tx, row.tenant_id, row.id, envelope, decision.delayMs);
      await this.o.store.appendEvents(tx, [
        ev(next, 'job.retrying', { attempt: row.attempts, delayMs: decision.delayMs, code: envelope.code }),
      ]);
      this.#emit(next, 'job.retrying');
      return { row: next, retry: readyEntryOf(next) };
    }
    const result: JobResult = {
      success: false,
      error: envelope,
      metadata: {
        completedAt: new Date().toISOString(),
        durationMs: Math.max(0, Date.now() - row.updated_at.getTime()),
        attempts: row.attempts,
        ...(runner ? { runnerId: runner.id } : {}),
      },
    };
    const done = await this.o.store.markTerminal(tx, row.tenant_id, row.id, 'failed', envelope, result, true);
    await this.o.store.appendEvents(tx, [ev(done, 'job.failed', { attempt: row.attempts, code: envelope.code, reason: decision.reason })]);
    this.#emit(done, 'job.failed');
    return { row: done };
  }

  #envelope(code: 'JOB_CANCELLED' | 'JOB_EXPIRED' | 'HANDLER_FAILED'): ErrorEnvelope {
    return buildErrorEnvelope(new AppError(code), { service: SERVICE_NAME });
  }

  async #enqueue(entries: readonly ReadyEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.o.queue.enqueue(entries);
    } catch (err) {
      // The jobs are safe in PostgreSQL; reconciliation puts them back in the queue.
      this.o.logger.warn({ err, count: entries.length }, 'enqueue failed; reconciliation will restore the entries');
    }
  }

  #emit(row: JobRow, type: JobEventType): void {
    this.o.onEvent?.(row.tenant_id, row.id, type);
  }
}

function ev(row: JobRow, type: JobEventType, data?: Record<string, unknown>): JobEventRecord {
  return { tenantId: row.tenant_id, jobId: row.id, type, data: { status: row.status, ...data } };
}
