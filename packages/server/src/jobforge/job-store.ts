import { randomUUID } from 'node:crypto';
import { InternalError, type ErrorEnvelope, type JobRequest, type JobResult } from '@controlplane/contracts';
import type { FieldCipher } from '@controlplane/platform';
import { assertOwnKeyPool, FAILURE_REPORT_SLOTS } from '../keys/internal.js';
import {
  attemptRowId,
  JOB_ERROR_SLOTS,
  JOB_EVENT_SLOTS,
  JOB_REQUEST_SLOTS,
  JOB_RESULT_SLOTS,
  openSlots,
  sealSlots,
} from '../keys/index.js';
import type { Database, Sql } from '../storage/index.js';
import type { JobRow } from './job-row.js';
import { jobforgeSql as sql } from './sql.js';
import {
  type CompletionRecord,
  type JobEventRecord,
  type LeaseGrant,
  type LeaseRef,
  type ListJobsFilter,
  type NewJob,
  type StoredJobEvent,
} from './store-records.js';

export interface JobStoreOptions {
  /**
   * Encrypts the sensitive parts of jobs at rest (docs/encryption.md): the request's payload data
   * and options, the result's data and error, the error's message and details, attempt errors and
   * progress messages. Without it everything is stored in clear.
   */
  cipher?: FieldCipher | undefined;
}

/**
 * Jobs, their events and attempts in PostgreSQL, through the statements of sql/jobforge. Every
 * statement is scoped by tenant; the lease statements also check runner, lease id and fencing
 * token, so a stale or foreign runner's write matches no row. The `moveTo…` methods are the state
 * table's transitions (job-states.ts): each UPDATE is guarded by its event's `from` states, so the
 * database refuses a transition the table does not have.
 *
 * With a cipher, this is the one place where job values are encrypted and decrypted: every write
 * encrypts, every read decrypts, so callers only ever see clear values. Each ciphertext is bound
 * to its tenant, table, row and field; one copied elsewhere fails with CP_CRYPTO_DECRYPT_*.
 */
export class JobStore {
  readonly cipher: FieldCipher | undefined;

  constructor(
    readonly db: Database,
    options: JobStoreOptions = {},
  ) {
    this.cipher = options.cipher;
    if (this.cipher) assertOwnKeyPool(this.cipher.keyring.store, db);
  }

  /** The request as stored: payload data and options encrypted under the job's row. */
  async #sealRequest(tenantId: string, request: JobRequest): Promise<JobRequest> {
    return sealSlots(this.cipher, { tenantId, table: 'jobs', rowId: request.id }, request, JOB_REQUEST_SLOTS);
  }

  async #sealResult(tenantId: string, jobId: string, result: JobResult | null): Promise<JobResult | null> {
    return sealSlots(this.cipher, { tenantId, table: 'jobs', rowId: jobId }, result, JOB_RESULT_SLOTS);
  }

  async #sealError(tenantId: string, jobId: string, error: ErrorEnvelope | null): Promise<ErrorEnvelope | null> {
    return sealSlots(this.cipher, { tenantId, table: 'jobs', rowId: jobId }, error, JOB_ERROR_SLOTS);
  }

  async #open(row: JobRow): Promise<JobRow> {
    if (!this.cipher) return row;
    const ref = { tenantId: row.tenant_id, table: 'jobs', rowId: row.id };
    const [request, result, error] = await Promise.all([
      openSlots(this.cipher, ref, row.request, JOB_REQUEST_SLOTS),
      openSlots(this.cipher, ref, row.result, JOB_RESULT_SLOTS),
      openSlots(this.cipher, ref, row.error, JOB_ERROR_SLOTS),
    ]);
    return { ...row, request, result, error };
  }

  async #openAll(rows: JobRow[]): Promise<JobRow[]> {
    return this.cipher ? Promise.all(rows.map((r) => this.#open(r))) : rows;
  }

  async #openOne(row: JobRow | undefined): Promise<JobRow | undefined> {
    return row && this.#open(row);
  }

  // ---------------------------------------------------------------- reads

  async getJobs(q: Sql, tenantId: string, ids: readonly string[]): Promise<JobRow[]> {
    return this.#openAll((await sql('get_jobs').run<JobRow>(q, { tenant_id: tenantId, ids })).rows);
  }

  /** One job; with `forUpdate`, locked for the transaction that is about to move it. */
  async getJob(q: Sql, tenantId: string, id: string, forUpdate = false): Promise<JobRow | undefined> {
    const res = await sql(forUpdate ? 'lock_job' : 'get_job').run<JobRow>(q, { tenant_id: tenantId, id });
    return this.#openOne(res.rows[0]);
  }

  async listJobs(q: Sql, tenantId: string, f: ListJobsFilter): Promise<JobRow[]> {
    const res = await sql('list_jobs').run<JobRow>(q, {
      tenant_id: tenantId,
      status: f.status ?? null,
      type: f.type ?? null,
      dead_lettered: f.deadLettered ?? null,
      flow_id: f.flowId ?? null,
      after_created_at: f.after?.createdAt ?? null,
      after_id: f.after?.id ?? null,
      limit: f.limit,
    });
    return this.#openAll(res.rows);
  }

  async listEvents(q: Sql, tenantId: string, jobId: string, afterSeq = '0', limit = 500): Promise<StoredJobEvent[]> {
    const res = await sql('list_events').run<StoredJobEvent>(q, { tenant_id: tenantId, job_id: jobId, after_seq: afterSeq, limit });
    if (!this.cipher) return res.rows;
    return Promise.all(
      res.rows.map(async (e) => ({
        ...e,
        data: await openSlots(this.cipher, { tenantId, table: 'job_events', rowId: e.id }, e.data, JOB_EVENT_SLOTS),
      })),
    );
  }

  async listAttempts(q: Sql, tenantId: string, jobId: string): Promise<Record<string, unknown>[]> {
    const res = await sql('list_attempts').run(q, { tenant_id: tenantId, job_id: jobId });
    if (!this.cipher) return res.rows;
    return Promise.all(
      res.rows.map(async (a) => ({
        ...a,
        error: await openSlots(
          this.cipher,
          { tenantId, table: 'job_attempts', rowId: attemptRowId(jobId, a.attempt as number) },
          a.error,
          JOB_ERROR_SLOTS,
        ),
      })),
    );
  }

  /** How this exact lease ended, if it has: tells a re-sent outcome from a stale one. */
  async attemptOutcome(q: Sql, tenantId: string, ref: LeaseRef, runnerId: string): Promise<string | undefined> {
    const res = await sql('attempt_outcome').run<{ outcome: string | null }>(q, {
      tenant_id: tenantId,
      job_id: ref.jobId,
      lease_id: ref.leaseId,
      fencing_token: ref.fencingToken,
      runner_id: runnerId,
    });
    return res.rows[0]?.outcome ?? undefined;
  }

  /** Claimable jobs in (tenant, id) order after `after`, for rebuilding the dispatch queue. */
  async listClaimable(
    q: Sql,
    after: { tenantId: string; id: string } | undefined,
    limit: number,
  ): Promise<Array<Pick<JobRow, 'tenant_id' | 'id' | 'pool' | 'type' | 'priority' | 'run_at'>>> {
    const res = await sql('list_claimable').run<Pick<JobRow, 'tenant_id' | 'id' | 'pool' | 'type' | 'priority' | 'run_at'>>(q, {
      after_tenant_id: after?.tenantId ?? null,
      after_id: after?.id ?? null,
      limit,
    });
    return res.rows;
  }

  // ---------------------------------------------------------------- submit

  /**
   * The `submit` transition: inserts the jobs that do not exist yet, with their `job.created` and
   * `job.queued` events, in one statement; returns the rows actually inserted.
   */
  async insertJobs(tx: Sql, jobs: readonly NewJob[]): Promise<JobRow[]> {
    if (jobs.length === 0) return [];
    // The digest (idempotency) was computed by the caller over the clear request.
    const stored = await Promise.all(jobs.map((j) => this.#sealRequest(j.tenantId, j.request)));
    const res = await sql('insert_jobs').run<Omit<JobRow, 'request'>>(tx, {
      jobs: JSON.stringify(
        jobs.map((j, i) => ({
          tenant_id: j.tenantId,
          id: j.request.id,
          type: j.request.type,
          pool: j.pool,
          priority: j.request.priority,
          request: stored[i],
          digest: j.requestDigest,
          run_at: j.runAt.toISOString(),
          expires_at: j.request.metadata.expiresAt ?? null,
          timeout_ms: j.request.timeoutMs,
          submitted_by: j.submittedBy,
          trace_parent: j.traceParent ?? null,
          concurrency_key: j.request.metadata.concurrencyKey ?? null,
          waiting: j.waiting ?? false,
          flow_id: j.flowId ?? null,
        })),
      ),
    });
    // An inserted row holds exactly the request that was sent, which is at hand in clear: it is
    // not sent back (nor decrypted, nor parsed) for every job of a submission.
    const sent = new Map(jobs.map((j) => [`${j.tenantId}/${j.request.id}`, j.request]));
    return res.rows.map((r) => ({ ...r, request: sent.get(`${r.tenant_id}/${r.id}`)! }));
  }

  async appendEvents(q: Sql, events: readonly JobEventRecord[]): Promise<void> {
    if (events.length === 0) return;
    const rows = await Promise.all(
      events.map(async (e) => {
        const id = randomUUID();
        // A progress message is the runner's free text about the job's data.
        const data = await sealSlots(
          this.cipher,
          { tenantId: e.tenantId, table: 'job_events', rowId: id },
          e.data ?? null,
          JOB_EVENT_SLOTS,
        );
        return { id, tenant_id: e.tenantId, job_id: e.jobId, type: e.type, data };
      }),
    );
    await sql('append_events').run(q, { events: JSON.stringify(rows) });
  }

  // ---------------------------------------------------------------- lease

  /**
   * The `lease` transition for the PostgreSQL queue: the best ready jobs of the tenant's pool and
   * types, highest priority first, then oldest run_at.
   */
  async leaseNextReady(
    q: Sql,
    tenantId: string,
    pool: string,
    types: readonly string[],
    max: number,
    grant: LeaseGrant,
  ): Promise<JobRow[]> {
    const res = await sql('lease_next_ready').run(q, { tenant_id: tenantId, pool, types, max, ...grantValues(grant) });
    return (await this.#leased(res)).rows;
  }

  /**
   * The `lease` transition for ids popped from the Redis queue (each re-checked in the statement).
   * `keyWaiting` are the ids that are ready but wait for their concurrency key: the caller puts
   * them back in its index.
   */
  async leaseByIds(
    q: Sql,
    tenantId: string,
    pool: string,
    types: readonly string[],
    ids: readonly string[],
    grant: LeaseGrant,
  ): Promise<{ rows: JobRow[]; keyWaiting: string[] }> {
    if (ids.length === 0) return { rows: [], keyWaiting: [] };
    return this.#leased(await sql('lease_by_ids').run(q, { tenant_id: tenantId, pool, types, ids, ...grantValues(grant) }));
  }

  async #leased(res: { rows: Array<Record<string, unknown>> }): Promise<{ rows: JobRow[]; keyWaiting: string[] }> {
    const head = res.rows[0];
    if (head?.runner_may_claim === false) throw new InternalError('CP_JOBFORGE_RUNNER_MAY_NOT_CLAIM');
    const rows = res.rows
      .filter((r) => r.id !== null)
      .map(({ runner_may_claim: _g, key_waiting: _w, concurrency_key: _k, ...row }) => row as unknown as JobRow);
    return { rows: await this.#openAll(rows), keyWaiting: (head?.key_waiting as string[] | undefined) ?? [] };
  }

  /** Every lease the runner holds now. */
  async leasesOf(q: Sql, tenantId: string, runnerId: string): Promise<LeaseRef[]> {
    const res = await sql('leases_of').run<{ id: string; lease_id: string; fencing_token: string }>(q, {
      tenant_id: tenantId,
      runner_id: runnerId,
    });
    return res.rows.map((r) => ({ jobId: r.id, leaseId: r.lease_id, fencingToken: r.fencing_token }));
  }

  /** Extends the leases a runner still holds; returns the jobs that were extended. */
  async extendLeases(
    q: Sql,
    tenantId: string,
    runnerId: string,
    leases: readonly LeaseRef[],
    leaseMs: number,
  ): Promise<Array<{ id: string; cancel_requested: boolean }>> {
    if (leases.length === 0) return [];
    const res = await sql('extend_leases').run<{ id: string; cancel_requested: boolean }>(q, {
      tenant_id: tenantId,
      runner_id: runnerId,
      leases: leaseRefsJson(leases),
      lease_ms: leaseMs,
      job_ids: leases.map((l) => l.jobId),
    });
    return res.rows;
  }

  /** Locks the job iff it is currently leased to this runner under this lease and token. */
  async lockLeasedJob(q: Sql, tenantId: string, runnerId: string, ref: LeaseRef): Promise<JobRow | undefined> {
    const res = await sql('lock_leased_job').run<JobRow>(q, {
      tenant_id: tenantId,
      id: ref.jobId,
      runner_id: runnerId,
      lease_id: ref.leaseId,
      fencing_token: ref.fencingToken,
    });
    return this.#openOne(res.rows[0]);
  }

  /** Locks those of `refs` that are currently leased to this runner under their lease and token. */
  async lockLeasedJobs(q: Sql, tenantId: string, runnerId: string, refs: readonly LeaseRef[]): Promise<JobRow[]> {
    if (refs.length === 0) return [];
    const res = await sql('lock_leased_jobs').run<JobRow>(q, {
      tenant_id: tenantId,
      runner_id: runnerId,
      leases: leaseRefsJson(refs),
      job_ids: refs.map((r) => r.jobId),
    });
    return this.#openAll(res.rows);
  }

  /** Leased jobs whose lease has run out, locked for the reaper (any tenant). */
  async lockExpiredLeases(q: Sql, limit: number): Promise<JobRow[]> {
    return this.#openAll((await sql('lock_expired_leases').run<JobRow>(q, { limit })).rows);
  }

  /** Waiting jobs past their expiresAt, locked for the expirer (any tenant). */
  async lockExpiredJobs(q: Sql, limit: number): Promise<JobRow[]> {
    return this.#openAll((await sql('lock_expired_jobs').run<JobRow>(q, { limit })).rows);
  }

  // ---------------------------------------------------------------- outcomes

  /**
   * The `complete` transition, set-based: completes each job only if it is still leased to this
   * runner under the given lease, token, attempt and type — all checked in the statement, so a
   * stale or foreign outcome records nothing — with its attempt, event and outbox row.
   */
  async moveToCompleted(
    q: Sql,
    tenantId: string,
    runnerId: string,
    items: readonly CompletionRecord[],
  ): Promise<Array<{ id: string; has_children: boolean }>> {
    if (items.length === 0) return [];
    const results = await Promise.all(items.map((i) => this.#sealResult(tenantId, i.id, i.result)));
    const res = await sql('move_to_completed').run<{ id: string; has_children: boolean }>(q, {
      tenant_id: tenantId,
      runner_id: runnerId,
      items: JSON.stringify(
        items.map((i, n) => ({
          id: i.id,
          lease_id: i.leaseId,
          fencing_token: i.fencingToken,
          type: i.type,
          attempt: i.attempt,
          result: results[n],
          signature: i.signature,
          fingerprint: i.certFingerprint,
        })),
      ),
      job_ids: items.map((i) => i.id),
    });
    return res.rows;
  }

  async finishAttempt(
    q: Sql,
    tenantId: string,
    jobId: string,
    attempt: number,
    outcome: 'completed' | 'failed' | 'lease_expired' | 'cancelled' | 'released',
    error: ErrorEnvelope | null,
    proof: { signature: string; certFingerprint: string } | null = null,
  ): Promise<void> {
    const stored = await sealSlots(
      this.cipher,
      { tenantId, table: 'job_attempts', rowId: attemptRowId(jobId, attempt) },
      error,
      JOB_ERROR_SLOTS,
    );
    await sql('finish_attempt').run(q, {
      tenant_id: tenantId,
      job_id: jobId,
      attempt,
      outcome,
      error: stored,
      signature: proof?.signature ?? null,
      cert_fingerprint: proof?.certFingerprint ?? null,
    });
  }

  /**
   * Queues a runner's signed failure for TruthCore, in the transaction that records it (as a
   * completion is queued by the statement that records it). `report` is the failure exactly as
   * the runner signed it; its message and details are encrypted under the outbox row.
   */
  async queueFailedResult(
    q: Sql,
    tenantId: string,
    jobId: string,
    attempt: number,
    lease: { fencingToken: string; runnerId: string },
    proof: { signature: string; certFingerprint: string },
    report: object,
  ): Promise<void> {
    const failure = await sealSlots(
      this.cipher,
      { tenantId, table: 'result_outbox', rowId: attemptRowId(jobId, attempt) },
      report,
      FAILURE_REPORT_SLOTS,
    );
    await sql('queue_failed_result').run(q, {
      tenant_id: tenantId,
      job_id: jobId,
      attempt,
      fencing_token: lease.fencingToken,
      runner_id: lease.runnerId,
      cert_fingerprint: proof.certFingerprint,
      signature: proof.signature,
      failure: JSON.stringify(failure),
    });
  }

  /** The `fail` and `expire` transitions: failed for good and dead-lettered. */
  async moveToFailed(q: Sql, tenantId: string, jobId: string, error: ErrorEnvelope, result: JobResult | null): Promise<JobRow> {
    const [storedError, storedResult] = await Promise.all([
      this.#sealError(tenantId, jobId, error),
      this.#sealResult(tenantId, jobId, result),
    ]);
    return this.#moved(
      await sql('move_to_failed').run<JobRow>(q, { tenant_id: tenantId, id: jobId, error: storedError, result: storedResult }),
      jobId,
      'fail',
    );
  }

  /** The `cancel` transition. */
  async moveToCancelled(q: Sql, tenantId: string, jobId: string, error: ErrorEnvelope): Promise<JobRow> {
    const stored = await this.#sealError(tenantId, jobId, error);
    return this.#moved(await sql('move_to_cancelled').run<JobRow>(q, { tenant_id: tenantId, id: jobId, error: stored }), jobId, 'cancel');
  }

  /** The `retry` transition: back in line after `delayMs`. */
  async moveToRetrying(q: Sql, tenantId: string, jobId: string, error: ErrorEnvelope | null, delayMs: number): Promise<JobRow> {
    const stored = await this.#sealError(tenantId, jobId, error);
    const res = await sql('move_to_retrying').run<JobRow>(q, { tenant_id: tenantId, id: jobId, error: stored, delay_ms: delayMs });
    return this.#moved(res, jobId, 'retry');
  }

  /** The `release` transition: a draining runner's lease handed back, queued now without using a retry. */
  async moveToQueuedOnRelease(q: Sql, tenantId: string, jobId: string): Promise<JobRow> {
    return this.#moved(await sql('move_to_queued_on_release').run<JobRow>(q, { tenant_id: tenantId, id: jobId }), jobId, 'release');
  }

  /** The `redrive` transition: a failed or cancelled job with a fresh retry budget, queued now. */
  async moveToQueuedOnRedrive(q: Sql, tenantId: string, jobId: string): Promise<JobRow> {
    return this.#moved(await sql('move_to_queued_on_redrive').run<JobRow>(q, { tenant_id: tenantId, id: jobId }), jobId, 'redrive');
  }

  /** Marks a running job for cancellation; its runner is told on its next heartbeat. */
  async requestCancel(q: Sql, tenantId: string, jobId: string): Promise<void> {
    await sql('request_cancel').run(q, { tenant_id: tenantId, id: jobId });
  }

  /**
   * The moved row. Callers hold the row locked and have checked its state, so a transition the
   * table refuses (no row updated) is a bug, not a race: it is thrown, and the transaction rolls back.
   */
  async #moved(res: { rows: JobRow[] }, jobId: string, event: string): Promise<JobRow> {
    const row = res.rows[0];
    if (!row) throw new InternalError('CP_JOBFORGE_TRANSITION_REFUSED', { params: { jobId, event } });
    return this.#open(row);
  }
}

function grantValues(grant: LeaseGrant) {
  return { runner_id: grant.runnerId, lease_ms: grant.leaseMs, certificate_serial: grant.certificateSerial?.toLowerCase() ?? null };
}

function leaseRefsJson(refs: readonly LeaseRef[]): string {
  return JSON.stringify(refs.map((r) => ({ job_id: r.jobId, lease_id: r.leaseId, fencing_token: r.fencingToken })));
}
