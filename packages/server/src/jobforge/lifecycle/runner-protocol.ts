import { AppError, isInternalError, type ErrorEnvelope, type JobResult, type JobStatus } from '@controlplane/contracts';
import { resultDigest, type ResultSignatureFields } from '@controlplane/platform';
import type { Sql } from '../../storage/index.js';
import { withTenant } from '../../storage/index.js';
import { envelopeOf, type JobEnvelope } from '../job-envelope.js';
import { readyEntryOf, type JobRow, type ReadyEntry } from '../job-row.js';
import type { LeaseRef } from '../store-records.js';
import { runningJobHeadroom } from './quota-checks.js';
import type { JobFlows } from './flows.js';
import { jobEvent, type FailureInput, type JobTransitions, type ResultProof } from './transitions.js';

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

export interface ClaimOptions {
  max: number;
  waitMs: number;
  /** Types the runner asks for; intersected with what it registered. */
  types?: readonly string[] | undefined;
  signal?: AbortSignal | undefined;
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

/** What a runner sent for a lease, to tell a re-send from a different outcome. */
type SentOutcome = { outcome: 'completed'; data: unknown } | { outcome: 'failed'; failure: FailureInput } | { outcome: 'released' };

export type OutcomeResult = OutcomeAck | { jobId: string; error: AppError };

/**
 * What a runner does to the jobs leased to it: claim (the `lease` transition), heartbeat, progress,
 * and its outcomes — complete, fail, release. Every call is checked against the lease: job, runner,
 * lease id and fencing token, so a stale or foreign runner records nothing, and a re-sent outcome
 * is acknowledged as a duplicate, never recorded twice.
 */
export class RunnerProtocol {
  readonly leaseMs: number;

  constructor(
    private readonly t: JobTransitions,
    private readonly flows: JobFlows,
  ) {
    this.leaseMs = t.o.leaseMs ?? 30_000;
  }

  /** Long-polls for up to `max` jobs of the runner's tenant, pool and registered types. */
  async claim(runner: RunnerIdentity, opts: ClaimOptions): Promise<JobEnvelope[]> {
    return withTenant(runner.tenantId, async () => {
      const registered = new Set(runner.jobTypes);
      const types = opts.types ? opts.types.filter((t) => registered.has(t)) : [...registered];
      if (types.length === 0) return [];
      const wanted = Math.max(1, Math.min(opts.max, 500));
      const deadline = Date.now() + Math.max(0, Math.min(opts.waitMs, 60_000));
      const { queue, db } = this.t.o;
      for (;;) {
        // A tenant over its running-jobs quota gets nothing now; its jobs wait their turn.
        const limited = (await this.t.quotas.get(runner.tenantId)).maxRunningJobs !== null;
        const max = limited ? Math.min(wanted, await runningJobHeadroom(db, runner.tenantId)) : wanted;
        let rows: JobRow[] = [];
        try {
          // With the runner's certificate serial, the lease statement itself checks that the
          // runner may still be given work: one that began to drain or was revoked while this
          // long-poll waited leases nothing, and the poll ends empty.
          if (max > 0) {
            const grant = { runnerId: runner.id, leaseMs: this.leaseMs, certificateSerial: runner.certificateSerial };
            const req = { tenantId: runner.tenantId, pool: runner.pool, types, max, grant };
            const tracing = this.t.o.tracing;
            rows = tracing?.enabled
              ? await tracing.inSpan('jobforge.queue.claim', { attributes: { 'controlplane.queue': queue.kind } }, async (span) => {
                  const leased = await queue.claim(req);
                  span?.setAttribute('controlplane.jobs', leased.length);
                  return leased;
                })
              : await queue.claim(req);
          }
        } catch (err) {
          if (isInternalError(err, 'CP_JOBFORGE_RUNNER_MAY_NOT_CLAIM')) return [];
          throw err;
        }
        if (rows.length > 0) {
          const now = Date.now();
          for (const r of rows) {
            this.t.emit(r, 'job.started');
            this.t.o.metrics?.jobWait.observe({ tenant: r.tenant_id, type: r.type }, Math.max(0, now - r.run_at.getTime()) / 1000);
          }
          return rows.map(envelopeOf);
        }
        const left = deadline - Date.now();
        if (left <= 0 || opts.signal?.aborted) return [];
        await queue.waitForWork(runner.tenantId, runner.pool, left, opts.signal);
        if (opts.signal?.aborted) return [];
      }
    });
  }

  /**
   * Extends the runner's leases; answers which of its jobs are cancelled or no longer its own.
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
      const { store, db } = this.t.o;
      const extended = await store.extendLeases(db, runner.tenantId, runner.id, leases, this.leaseMs);
      const ok = new Set(extended.map((e) => e.id));
      if (options.draining) {
        const listed = new Set(leases.map((l) => l.jobId));
        for (const held of await store.leasesOf(db, runner.tenantId, runner.id)) {
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
      return this.t.o.db.transaction(async (tx) => {
        const row = await this.#leased(tx, runner, ref);
        const detail = { ...(data.pct !== undefined ? { pct: data.pct } : {}), ...(data.message ? { message: data.message } : {}) };
        await this.t.store.appendEvents(tx, [jobEvent(row, 'job.progress', detail)]);
        this.t.emit(row, 'job.progress');
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
  async completeMany(runner: RunnerIdentity, items: ReadonlyArray<CompletionItem>): Promise<OutcomeResult[]> {
    return withTenant(runner.tenantId, async () => {
      if (items.length === 0) return [];
      const results = new Map<string, OutcomeResult>();
      // Jobs that ended with children in a flow: settled once their ends have committed.
      const parents: string[] = [];
      // Fast path: the runner told us the attempt and type it was leased, so the signature and the
      // output schema can be checked before touching the database, and one statement (whose WHERE
      // re-checks lease, token, attempt and type) records every good outcome. Anything else —
      // no attempt/type given, an output that fails its schema, a lease no longer held — takes the
      // locking path below.
      const slow: CompletionItem[] = [];
      // Type and run time of each outcome recorded here, for the metrics.
      const recorded = new Map<string, { type: string; durationMs: number }>();
      const fast: Array<{ item: CompletionItem; attempt: number }> = [];
      const { jobTypes, db, store } = this.t.o;
      const contracts = await jobTypes.getManyCached(db, runner.tenantId, [...new Set(items.flatMap((i) => (i.type ? [i.type] : [])))]);
      for (const item of items) {
        if (item.attempt === undefined || item.type === undefined) {
          slow.push(item);
          continue;
        }
        try {
          const lease = { jobId: item.ref.jobId, tenantId: runner.tenantId, attempt: item.attempt, fencingToken: item.ref.fencingToken };
          this.#checkProof(lease, 'completed', item.data, item.proof);
        } catch (err) {
          results.set(item.ref.jobId, { jobId: item.ref.jobId, error: err as AppError });
          continue;
        }
        if (jobTypes.outputProblems(contracts.get(item.type), item.data).length > 0) slow.push(item);
        else fast.push({ item, attempt: item.attempt });
      }
      if (fast.length > 0) {
        const now = Date.now();
        const records = fast.map(({ item, attempt }) => ({
          id: item.ref.jobId,
          leaseId: item.ref.leaseId,
          fencingToken: item.ref.fencingToken,
          type: item.type!,
          attempt,
          signature: item.proof?.signature ?? null,
          certFingerprint: item.proof?.certFingerprint ?? null,
          result: successResult(runner, attempt, item, now, undefined),
        }));
        const completed = await store.moveToCompleted(db, runner.tenantId, runner.id, records);
        for (const r of records) recorded.set(r.id, { type: r.type, durationMs: r.result.metadata.durationMs });
        for (const c of completed) if (c.has_children) parents.push(c.id);
        const done = new Set(completed.map((c) => c.id));
        for (const { item } of fast) {
          if (done.has(item.ref.jobId)) results.set(item.ref.jobId, { jobId: item.ref.jobId, status: 'completed', duplicate: false });
          else slow.push(item);
        }
      }
      if (slow.length > 0) await this.#completeLocked(runner, slow, results, recorded, parents);
      await this.flows.settleEnded(runner.tenantId, parents);
      for (const [id, r] of results) {
        if (!('status' in r) || r.status !== 'completed' || r.duplicate) continue;
        this.t.emit({ tenant_id: runner.tenantId, id }, 'job.completed');
        const rec = recorded.get(id);
        if (rec && this.t.o.metrics) {
          const labels = { tenant: runner.tenantId, type: rec.type };
          this.t.o.metrics.jobsCompleted.inc(labels);
          this.t.o.metrics.jobRun.observe(labels, rec.durationMs / 1000);
        }
      }
      return items.map((i) => results.get(i.ref.jobId) ?? { jobId: i.ref.jobId, error: new AppError('LEASE_NOT_HELD') });
    });
  }

  /** The locking path: each outcome is checked against its locked row inside one transaction. */
  async #completeLocked(
    runner: RunnerIdentity,
    items: readonly CompletionItem[],
    results: Map<string, OutcomeResult>,
    recorded: Map<string, { type: string; durationMs: number }>,
    ended: string[],
  ): Promise<void> {
    const retries: ReadyEntry[] = [];
    const { store, jobTypes } = this.t.o;
    await this.t.o.db.transaction(async (tx) => {
      const rows = await store.lockLeasedJobs(
        tx,
        runner.tenantId,
        runner.id,
        items.map((i) => i.ref),
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      const contracts = await jobTypes.getMany(tx, runner.tenantId, [...new Set(rows.map((r) => r.type))]);
      const good: Array<{ row: JobRow; item: CompletionItem }> = [];
      for (const item of items) {
        const row = byId.get(item.ref.jobId);
        if (!row) {
          results.set(
            item.ref.jobId,
            await this.#duplicateOrRefuse(tx, runner, item.ref, { outcome: 'completed', data: item.data }).catch((error: AppError) => ({
              jobId: item.ref.jobId,
              error,
            })),
          );
          continue;
        }
        if ((item.attempt !== undefined && item.attempt !== row.attempts) || (item.type !== undefined && item.type !== row.type)) {
          // The runner names another attempt or type than the lease it holds: not its lease.
          results.set(row.id, { jobId: row.id, error: new AppError('LEASE_NOT_HELD') });
          continue;
        }
        try {
          this.#checkProof(leaseOf(row), 'completed', item.data, item.proof);
        } catch (err) {
          results.set(row.id, { jobId: row.id, error: err as AppError });
          continue;
        }
        const problems = jobTypes.outputProblems(contracts.get(row.type), item.data);
        if (problems.length > 0) {
          const message = `The result does not match the output schema of job type ${row.type}.`;
          const failure: FailureInput = {
            category: 'SCHEMA_MISMATCH',
            code: 'SCHEMA_MISMATCH',
            message,
            retryable: false,
            details: problems,
          };
          const failed = await this.t.recordFailure(tx, row, failure, runner.id, false, item.proof);
          if (failed.retry) retries.push(failed.retry);
          else ended.push(row.id);
          results.set(row.id, { jobId: row.id, status: failed.row.status, duplicate: false });
          continue;
        }
        good.push({ row, item });
      }
      const now = Date.now();
      // The rows are locked and checked; the statement's lease re-checks hold trivially here.
      const records = good.map(({ row, item }) => ({
        id: row.id,
        leaseId: row.lease_id!,
        fencingToken: row.fencing_token!,
        type: row.type,
        attempt: row.attempts,
        signature: item.proof?.signature ?? null,
        certFingerprint: item.proof?.certFingerprint ?? null,
        result: successResult(runner, row.attempts, item, now, row.updated_at),
      }));
      for (const r of records) recorded.set(r.id, { type: r.type, durationMs: r.result.metadata.durationMs });
      for (const { id, has_children } of await store.moveToCompleted(tx, runner.tenantId, runner.id, records)) {
        results.set(id, { jobId: id, status: 'completed', duplicate: false });
        if (has_children) ended.push(id);
      }
    });
    await this.t.enqueue(retries);
  }

  /** Records a failed attempt: retried per the job's policy, or failed and dead-lettered. */
  async fail(runner: RunnerIdentity, ref: LeaseRef, failure: FailureInput, proof?: ResultProof): Promise<OutcomeAck> {
    return withTenant(runner.tenantId, async () => {
      let retryEntry: ReadyEntry | undefined;
      const ack = await this.t.o.db.transaction(async (tx): Promise<OutcomeAck> => {
        const row = await this.t.store.lockLeasedJob(tx, runner.tenantId, runner.id, ref);
        if (!row) return this.#duplicateOrRefuse(tx, runner, ref, { outcome: 'failed', failure });
        this.#checkProof(leaseOf(row), 'failed', failure, proof);
        const out = await this.t.recordFailure(tx, row, failure, runner.id, false, proof);
        // A signed failure is a result like a completion: TruthCore gets it, with its signature.
        if (proof) {
          const lease = { fencingToken: row.fencing_token!, runnerId: runner.id };
          await this.t.store.queueFailedResult(tx, row.tenant_id, row.id, row.attempts, lease, proof, failure);
        }
        retryEntry = out.retry;
        return { jobId: row.id, status: out.row.status, duplicate: false };
      });
      if (retryEntry) await this.t.enqueue([retryEntry]);
      else if (!ack.duplicate) await this.flows.settleEnded(runner.tenantId, [ack.jobId]);
      return ack;
    });
  }

  /** A draining runner hands a job back (`release`): queued again at once without using a retry. */
  async release(runner: RunnerIdentity, ref: LeaseRef): Promise<OutcomeAck> {
    return withTenant(runner.tenantId, async () => {
      let entry: ReadyEntry | undefined;
      let ended = false;
      const ack = await this.t.o.db.transaction(async (tx): Promise<OutcomeAck> => {
        const { store } = this.t.o;
        const row = await store.lockLeasedJob(tx, runner.tenantId, runner.id, ref);
        if (!row) return this.#duplicateOrRefuse(tx, runner, ref, { outcome: 'released' });
        await store.finishAttempt(tx, row.tenant_id, row.id, row.attempts, 'released', null);
        if (row.cancel_requested_at) {
          await this.t.cancel(tx, row);
          ended = true;
          return { jobId: row.id, status: 'cancelled', duplicate: false };
        }
        const next = await store.moveToQueuedOnRelease(tx, row.tenant_id, row.id);
        await store.appendEvents(tx, [jobEvent(next, 'job.queued', { released: true })]);
        entry = readyEntryOf(next);
        return { jobId: row.id, status: next.status, duplicate: false };
      });
      if (entry) await this.t.enqueue([entry]);
      if (ended) await this.flows.settleEnded(runner.tenantId, [ack.jobId]);
      return ack;
    });
  }

  async #leased(tx: Sql, runner: RunnerIdentity, ref: LeaseRef): Promise<JobRow> {
    const row = await this.t.store.lockLeasedJob(tx, runner.tenantId, runner.id, ref);
    if (!row) throw new AppError('LEASE_NOT_HELD');
    return row;
  }

  /**
   * An outcome for a lease this runner no longer holds: the same outcome it already recorded is a
   * re-send (acknowledged as a duplicate); a different one for a lease it finished (another result,
   * another failure, a failure after a completion) is a conflict; anything else is not its lease.
   */
  async #duplicateOrRefuse(tx: Sql, runner: RunnerIdentity, ref: LeaseRef, sent: SentOutcome): Promise<OutcomeAck> {
    const prior = await this.t.store.attemptOutcome(tx, runner.tenantId, ref, runner.id);
    if (prior === undefined || prior === null) throw new AppError('LEASE_NOT_HELD');
    if (sent.outcome === 'failed' && prior === 'cancelled') return this.#duplicate(tx, runner, ref);
    if (prior === sent.outcome && (await this.#sameAsRecorded(tx, runner, ref, sent))) return this.#duplicate(tx, runner, ref);
    if (prior === 'completed' || prior === 'failed' || prior === sent.outcome) {
      throw new AppError('RESOURCE_CONFLICT', {
        params: { resource: 'outcome' },
        message: `Job ${ref.jobId}'s lease already ended ${prior}, with another outcome than this one.`,
      });
    }
    throw new AppError('LEASE_NOT_HELD');
  }

  async #duplicate(tx: Sql, runner: RunnerIdentity, ref: LeaseRef): Promise<OutcomeAck> {
    const row = await this.t.store.getJob(tx, runner.tenantId, ref.jobId);
    return { jobId: ref.jobId, status: row?.status ?? 'completed', duplicate: true };
  }

  /** Whether a re-sent outcome is the one recorded for this lease: the same result, or the same failure. */
  async #sameAsRecorded(tx: Sql, runner: RunnerIdentity, ref: LeaseRef, sent: SentOutcome): Promise<boolean> {
    if (sent.outcome === 'released') return true;
    if (sent.outcome === 'completed') {
      const row = await this.t.store.getJob(tx, runner.tenantId, ref.jobId);
      return row?.result !== null && row?.result !== undefined && resultDigest(row.result.data ?? null) === resultDigest(sent.data ?? null);
    }
    const attempts = await this.t.store.listAttempts(tx, runner.tenantId, ref.jobId);
    const mine = attempts.find((a) => String(a.fencing_token) === ref.fencingToken && a.lease_id === ref.leaseId);
    const recorded = mine?.error as Partial<ErrorEnvelope> | null | undefined;
    if (!recorded) return false;
    const f = sent.failure;
    return (
      resultDigest({
        category: recorded.category,
        code: recorded.code,
        message: recorded.message,
        retryable: recorded.retryable,
        details: recorded.details ?? [],
      }) ===
      resultDigest({
        category: f.category,
        code: f.code ?? 'HANDLER_FAILED',
        message: f.message.slice(0, 2000),
        retryable: f.retryable,
        details: f.details ?? [],
      })
    );
  }

  #checkProof(
    lease: Omit<ResultSignatureFields, 'outcome' | 'resultDigest'>,
    outcome: 'completed' | 'failed',
    value: unknown,
    proof: ResultProof | undefined,
  ): void {
    if (!proof) {
      if (this.t.o.requireResultProof)
        throw new AppError('ENVELOPE_SIGNATURE_INVALID', { message: 'The outcome carries no runner signature.' });
      return;
    }
    if (!proof.verify({ ...lease, outcome, resultDigest: resultDigest(value) })) throw new AppError('ENVELOPE_SIGNATURE_INVALID');
  }
}

function leaseOf(row: JobRow): Omit<ResultSignatureFields, 'outcome' | 'resultDigest'> {
  return { jobId: row.id, tenantId: row.tenant_id, attempt: row.attempts, fencingToken: row.fencing_token! };
}

function successResult(runner: RunnerIdentity, attempt: number, item: CompletionItem, now: number, leasedAt: Date | undefined): JobResult {
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
