import { randomUUID } from 'node:crypto';
import type { ErrorEnvelope, JobEventType, JobRequest, JobResult, JobStatus } from '@controlplane/contracts';
import type { FieldCipher } from '@controlplane/platform';
import { assertOwnKeyPool } from '../keys/data-key-store.js';
import {
  attemptRowId,
  FAILURE_REPORT_SLOTS,
  JOB_ERROR_SLOTS,
  JOB_EVENT_SLOTS,
  JOB_REQUEST_SLOTS,
  JOB_RESULT_SLOTS,
  openSlots,
  sealSlots,
} from '../keys/encrypted-fields.js';
import type { Database, Sql } from '../storage/index.js';
import type { JobRow } from './job-row.js';

/** Columns selected whenever a whole job row is read. */
const JOB_COLUMNS = `tenant_id, id, type, pool, priority, status, request, request_digest, attempts, retry_base, run_at,
  expires_at, timeout_ms, lease_id, lease_runner_id, lease_expires_at, fencing_token, cancel_requested_at, result, error,
  dead_lettered_at, submitted_by, created_at, updated_at, finished_at`;
const J_COLUMNS = JOB_COLUMNS.split(',')
  .map((c) => `j.${c.trim()}`)
  .join(', ');

/**
 * The part every lease statement shares, after its `picked` CTE has chosen and locked the jobs:
 * lease them ($5 runner, $6 lease ms), open their attempts and record `job.started` — all in the
 * same statement.
 */
const LEASE_CTES = `leased as (
         update jobs j set status = 'running', attempts = j.attempts + 1, lease_id = gen_random_uuid(),
                lease_runner_id = $5, lease_expires_at = now() + make_interval(secs => $6::double precision / 1000),
                fencing_token = nextval('job_fencing_seq'), updated_at = now()
           from picked p where j.tenant_id = p.tenant_id and j.id = p.id
         returning ${J_COLUMNS}
       ), attempts as (
         insert into job_attempts (tenant_id, job_id, attempt, runner_id, lease_id, fencing_token, started_at)
         select tenant_id, id, attempts, lease_runner_id, lease_id, fencing_token, now() from leased
       ), started as (
         insert into job_events (id, tenant_id, job_id, type, data)
         select gen_random_uuid(), tenant_id, id, 'job.started',
                jsonb_build_object('status', 'running', 'attempt', attempts, 'runnerId', lease_runner_id)
           from leased
       )`;

/**
 * Whether the runner ($5, certificate serial $7) may be given work at the moment the statement
 * runs: registered or active (not draining, not revoked) and presenting a certificate that is not
 * revoked. Checked inside the lease statement itself, so a runner that began to drain or was
 * revoked while its long-poll was waiting cannot lease anything, whatever it was told when the
 * poll began. The answer then has one leading row whose `runner_may_claim` says whether the guard
 * held; with it false nothing was leased.
 */
const GUARD_CTE = `guard as (
         select exists (
           select 1 from runners r join runner_certificates c on c.runner_id = r.id
            where r.id = $5 and r.tenant_id = $1 and r.status in ('enrolled', 'active')
              and c.serial_number = $7 and c.revoked_at is null
         ) as ok
       )`;

/** What an insert answers: every column but the request, which the caller has just sent. */
const INSERTED_COLUMNS = JOB_COLUMNS.replace(/\brequest,\s*/, '');

export interface NewJob {
  tenantId: string;
  request: JobRequest;
  requestDigest: string;
  pool: string;
  runAt: Date;
  submittedBy: string | null;
}

export interface JobEventRecord {
  tenantId: string;
  jobId: string;
  type: JobEventType;
  data?: Record<string, unknown> | undefined;
}

export interface StoredJobEvent {
  seq: string;
  id: string;
  job_id: string;
  type: JobEventType;
  created_at: Date;
  data: Record<string, unknown> | null;
}

export interface LeaseGrant {
  runnerId: string;
  leaseMs: number;
  /**
   * The serial number of the certificate the runner presented. With it the lease statement also
   * checks that the runner may be given work (not draining or revoked, certificate not revoked)
   * and leases nothing otherwise, answering RunnerMayNotClaimError.
   */
  certificateSerial?: string | undefined;
}

/** The runner began to drain or was revoked (see LeaseGrant.certificateSerial): nothing was leased. */
export class RunnerMayNotClaimError extends Error {
  constructor() {
    super('the runner may not be given work now');
    this.name = 'RunnerMayNotClaimError';
  }
}

export interface LeaseRef {
  jobId: string;
  leaseId: string;
  fencingToken: string;
}

export interface ListJobsFilter {
  status?: JobStatus | undefined;
  type?: string | undefined;
  deadLettered?: boolean | undefined;
  /** Opaque cursor from a previous page. */
  after?: { createdAt: Date; id: string } | undefined;
  limit: number;
}

export interface JobStoreOptions {
  /**
   * Encrypts the sensitive parts of jobs at rest (docs/encryption.md): the request's payload data
   * and options, the result's data and error, the error's message and details, attempt errors and
   * progress messages. Without it everything is stored in clear.
   */
  cipher?: FieldCipher | undefined;
}

/**
 * All SQL touching jobs, their events and attempts. Every statement is scoped by tenant; the
 * lease statements also check runner, lease id and fencing token, so a stale or foreign runner's
 * write matches no row.
 *
 * With a cipher, this is the one place where job values are encrypted and decrypted: every write
 * encrypts, every read decrypts, so callers only ever see clear values. Each ciphertext is bound
 * to its tenant, table, row and field; one copied elsewhere fails with a DecryptionError.
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

  /**
   * Inserts jobs that do not exist yet, with their `job.created` and `job.queued` events, in one
   * statement; returns the rows actually inserted (a repeated id inserts nothing).
   */
  async insertJobs(tx: Sql, jobs: readonly NewJob[]): Promise<JobRow[]> {
    if (jobs.length === 0) return [];
    // The digest (idempotency) was computed by the caller over the clear request.
    const stored = await Promise.all(jobs.map((j) => this.#sealRequest(j.tenantId, j.request)));
    const res = await tx.query<JobRow>(
      `with ins as (
         insert into jobs (tenant_id, id, type, pool, priority, status, request, request_digest, run_at, expires_at, timeout_ms, submitted_by)
         select t.tenant_id, t.id, t.type, t.pool, t.priority, 'queued', t.request, t.digest, t.run_at, t.expires_at, t.timeout_ms, t.submitted_by
           from jsonb_to_recordset($1::jsonb) as t(tenant_id text, id uuid, type text, pool text, priority int, request jsonb,
                digest text, run_at timestamptz, expires_at timestamptz, timeout_ms int, submitted_by text)
         on conflict (tenant_id, id) do nothing
         returning ${INSERTED_COLUMNS}
       ), ev as (
         insert into job_events (id, tenant_id, job_id, type, data)
         select gen_random_uuid(), ins.tenant_id, ins.id, e.type,
                case when e.type = 'job.queued' then jsonb_build_object('status', 'queued', 'runAt', ins.run_at) else jsonb_build_object('status', 'queued') end
           from ins cross join (values (1, 'job.created'), (2, 'job.queued')) as e(ord, type)
          order by ins.id, e.ord
       )
       select * from ins`,
      [
        JSON.stringify(
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
          })),
        ),
      ],
    );
    // An inserted row holds exactly the request that was sent, which is at hand in clear: it is
    // not sent back (nor decrypted, nor parsed) for every job of a submission.
    const sent = new Map(jobs.map((j) => [`${j.tenantId}/${j.request.id}`, j.request]));
    return res.rows.map((r) => ({ ...r, request: sent.get(`${r.tenant_id}/${r.id}`)! }));
  }

  async getJobs(q: Sql, tenantId: string, ids: readonly string[]): Promise<JobRow[]> {
    const res = await q.query<JobRow>(`select ${JOB_COLUMNS} from jobs where tenant_id = $1 and id = any($2::uuid[])`, [tenantId, ids]);
    return this.#openAll(res.rows);
  }

  async getJob(q: Sql, tenantId: string, id: string, forUpdate = false): Promise<JobRow | undefined> {
    const res = await q.query<JobRow>(`select ${JOB_COLUMNS} from jobs where tenant_id = $1 and id = $2${forUpdate ? ' for update' : ''}`, [
      tenantId,
      id,
    ]);
    return this.#openOne(res.rows[0]);
  }

  async listJobs(q: Sql, tenantId: string, f: ListJobsFilter): Promise<JobRow[]> {
    const where = ['tenant_id = $1'];
    const values: unknown[] = [tenantId];
    if (f.status) where.push(`status = $${values.push(f.status)}`);
    if (f.type) where.push(`type = $${values.push(f.type)}`);
    if (f.deadLettered !== undefined) where.push(f.deadLettered ? 'dead_lettered_at is not null' : 'dead_lettered_at is null');
    if (f.after) {
      where.push(`(created_at, id) < ($${values.push(f.after.createdAt)}, $${values.push(f.after.id)}::uuid)`);
    }
    const res = await q.query<JobRow>(
      `select ${JOB_COLUMNS} from jobs where ${where.join(' and ')} order by created_at desc, id desc limit $${values.push(f.limit)}`,
      values,
    );
    return this.#openAll(res.rows);
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
    await q.query(
      `insert into job_events (id, tenant_id, job_id, type, data)
       select t.id, t.tenant_id, t.job_id, t.type, t.data
         from jsonb_to_recordset($1::jsonb) as t(id uuid, tenant_id text, job_id uuid, type text, data jsonb)`,
      [JSON.stringify(rows)],
    );
  }

  async listEvents(q: Sql, tenantId: string, jobId: string, afterSeq = '0', limit = 500): Promise<StoredJobEvent[]> {
    const res = await q.query<StoredJobEvent>(
      `select seq, id, job_id, type, created_at, data from job_events
        where tenant_id = $1 and job_id = $2 and seq > $3::bigint order by seq limit $4`,
      [tenantId, jobId, afterSeq, limit],
    );
    if (!this.cipher) return res.rows;
    return Promise.all(
      res.rows.map(async (e) => ({
        ...e,
        data: await openSlots(this.cipher, { tenantId, table: 'job_events', rowId: e.id }, e.data, JOB_EVENT_SLOTS),
      })),
    );
  }

  async listAttempts(q: Sql, tenantId: string, jobId: string): Promise<Record<string, unknown>[]> {
    const res = await q.query(
      `select attempt, runner_id, lease_id, fencing_token, started_at, finished_at, outcome, error, result_signature, runner_cert_fingerprint
         from job_attempts where tenant_id = $1 and job_id = $2 order by attempt`,
      [tenantId, jobId],
    );
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

  /**
   * Leases ready jobs chosen by the PostgreSQL queue: highest priority first, then oldest run_at.
   * SKIP LOCKED lets concurrent claimers take disjoint rows without waiting on each other.
   */
  async leaseNextReady(
    q: Sql,
    tenantId: string,
    pool: string,
    types: readonly string[],
    max: number,
    grant: LeaseGrant,
  ): Promise<JobRow[]> {
    return this.#lease(
      q,
      (guard) => `select tenant_id, id from jobs
          where tenant_id = $1 and pool = $2 and status in ('queued', 'retrying') and type = any($3::text[])
            and run_at <= now() and (expires_at is null or expires_at > now()) and cancel_requested_at is null
            ${guard}
          order by priority desc, run_at, id
          limit $4
          for update skip locked`,
      [tenantId, pool, types, max],
      grant,
    );
  }

  /**
   * Leases specific jobs popped from the Redis queue. The WHERE clause re-checks everything the
   * queue claimed (tenant, pool, type, readiness), so a stale or wrong queue entry leases nothing.
   */
  async leaseByIds(
    q: Sql,
    tenantId: string,
    pool: string,
    types: readonly string[],
    ids: readonly string[],
    grant: LeaseGrant,
  ): Promise<JobRow[]> {
    if (ids.length === 0) return [];
    return this.#lease(
      q,
      (guard) => `select j.tenant_id, j.id from jobs j
          where j.tenant_id = $1 and j.id = any($4::uuid[]) ${guard}
            -- Re-checks written as plain filters (coalesce hides them from index matching): the
            -- rows must be found through the primary key. With the statistics of a smaller table
            -- the planner would otherwise pick the partial ready-index, whose predicate these
            -- conditions imply, and walk the whole backlog to find a handful of ids.
            and coalesce(j.pool = $2 and j.type = any($3::text[]) and j.status in ('queued', 'retrying')
                         and j.run_at <= now() + interval '1 second', false)
            and (j.expires_at is null or j.expires_at > now()) and j.cancel_requested_at is null
          -- A row another transaction holds (a second claimer that popped a duplicate entry, a
          -- completion, a cancel) is skipped, never waited for: waiting on rows locked in another
          -- order is how two claimers deadlocked. A skipped job that is still waiting is put back
          -- in the index by reconciliation.
          for update of j skip locked`,
      [tenantId, pool, types, ids],
      grant,
    );
  }

  /**
   * One lease statement: `picked(guard)` chooses and locks the jobs ($1 tenant, $2–$4 its own),
   * with `guard` in its WHERE clause; LEASE_CTES lease them. With a certificate serial in the
   * grant, GUARD_CTE decides first whether the runner may be given anything at all.
   */
  async #lease(q: Sql, picked: (guard: string) => string, params: readonly unknown[], grant: LeaseGrant): Promise<JobRow[]> {
    const guarded = grant.certificateSerial !== undefined;
    const res = await q.query<JobRow & { runner_may_claim?: boolean }>(
      `with ${guarded ? `${GUARD_CTE}, ` : ''}picked as (
         ${picked(guarded ? 'and (select ok from guard)' : '')}
       ), ${LEASE_CTES}
       ${guarded ? 'select g.ok as runner_may_claim, l.* from guard g left join leased l on true order by l.priority desc, l.run_at, l.id' : 'select * from leased order by priority desc, run_at, id'}`,
      [...params, grant.runnerId, grant.leaseMs, ...(guarded ? [grant.certificateSerial!.toLowerCase()] : [])],
    );
    if (!guarded) return this.#openAll(res.rows);
    if (res.rows[0]?.runner_may_claim === false) throw new RunnerMayNotClaimError();
    return this.#openAll(res.rows.filter((r) => r.id !== null).map(({ runner_may_claim: _, ...row }) => row as JobRow));
  }

  /** Every lease the runner holds now. */
  async leasesOf(q: Sql, tenantId: string, runnerId: string): Promise<LeaseRef[]> {
    const res = await q.query<{ id: string; lease_id: string; fencing_token: string }>(
      `select id, lease_id, fencing_token from jobs where status = 'running' and tenant_id = $1 and lease_runner_id = $2`,
      [tenantId, runnerId],
    );
    return res.rows.map((r) => ({ jobId: r.id, leaseId: r.lease_id, fencingToken: r.fencing_token }));
  }

  /** Extends the leases a runner still holds; returns the refs that were extended. */
  async extendLeases(
    q: Sql,
    tenantId: string,
    runnerId: string,
    leases: readonly LeaseRef[],
    leaseMs: number,
  ): Promise<Array<{ id: string; cancel_requested: boolean }>> {
    if (leases.length === 0) return [];
    const res = await q.query<{ id: string; cancel_requested: boolean }>(
      `update jobs j set lease_expires_at = now() + make_interval(secs => $4::double precision / 1000)
         from jsonb_to_recordset($3::jsonb) as l(job_id uuid, lease_id uuid, fencing_token bigint)
        where j.tenant_id = $1 and j.id = any($5::uuid[]) and j.id = l.job_id and j.lease_id = l.lease_id and j.fencing_token = l.fencing_token
          and coalesce(j.lease_runner_id = $2 and j.status = 'running', false)
       returning j.id, (j.cancel_requested_at is not null) as cancel_requested`,
      [
        tenantId,
        runnerId,
        JSON.stringify(leases.map((l) => ({ job_id: l.jobId, lease_id: l.leaseId, fencing_token: l.fencingToken }))),
        leaseMs,
        leases.map((l) => l.jobId),
      ],
    );
    return res.rows;
  }

  /** Locks the job iff it is currently leased to this runner under this lease and token. */
  async lockLeasedJob(q: Sql, tenantId: string, runnerId: string, ref: LeaseRef): Promise<JobRow | undefined> {
    const res = await q.query<JobRow>(
      `select ${JOB_COLUMNS} from jobs
        where tenant_id = $1 and id = $2 and status = 'running' and lease_runner_id = $3 and lease_id = $4 and fencing_token = $5::bigint
        for update`,
      [tenantId, ref.jobId, runnerId, ref.leaseId, ref.fencingToken],
    );
    return this.#openOne(res.rows[0]);
  }

  /** Locks those of `refs` that are currently leased to this runner under their lease and token. */
  async lockLeasedJobs(q: Sql, tenantId: string, runnerId: string, refs: readonly LeaseRef[]): Promise<JobRow[]> {
    if (refs.length === 0) return [];
    const res = await q.query<JobRow>(
      `select ${J_COLUMNS} from jobs j
         join jsonb_to_recordset($3::jsonb) as r(job_id uuid, lease_id uuid, fencing_token bigint)
           on j.id = r.job_id and j.lease_id = r.lease_id and j.fencing_token = r.fencing_token
        where j.tenant_id = $1 and j.id = any($4::uuid[]) and coalesce(j.status = 'running' and j.lease_runner_id = $2, false)
        order by j.id
        for update of j`,
      [
        tenantId,
        runnerId,
        JSON.stringify(refs.map((r) => ({ job_id: r.jobId, lease_id: r.leaseId, fencing_token: r.fencingToken }))),
        refs.map((r) => r.jobId),
      ],
    );
    return this.#openAll(res.rows);
  }

  /**
   * The fast completion path: completes each job only if it is still leased to this runner under
   * the given lease, token, attempt and type — all checked in the WHERE clause, so a stale or
   * foreign outcome records nothing — with its attempt and event, in one statement.
   */
  async recordCompletionsIfLeased(
    q: Sql,
    tenantId: string,
    runnerId: string,
    items: ReadonlyArray<{
      id: string;
      leaseId: string;
      fencingToken: string;
      type: string;
      attempt: number;
      result: JobResult;
      signature: string | null;
      certFingerprint: string | null;
      runnerId: string;
    }>,
  ): Promise<string[]> {
    if (items.length === 0) return [];
    const results = await Promise.all(items.map((i) => this.#sealResult(tenantId, i.id, i.result)));
    const res = await q.query<{ id: string }>(
      `with r as materialized (
         select * from jsonb_to_recordset($3::jsonb)
           as r(id uuid, lease_id uuid, fencing_token bigint, type text, attempt int, result jsonb, signature text, fingerprint text, runner_id text)
       ), done as (
         update jobs j set status = 'completed', result = r.result, error = null, lease_id = null, lease_runner_id = null,
                lease_expires_at = null, updated_at = now(), finished_at = now()
           from r
          where j.tenant_id = $1 and j.id = any($4::uuid[]) and j.id = r.id
            -- The lease checks are wrapped so that no partial index (the lease-expiry index is on
            -- running jobs) matches them: the rows are found by primary key whatever the
            -- statistics say. Without statistics the planner would otherwise AND that index with
            -- the tenant's list index and read every running and every listed job to find a few.
            and coalesce(j.status = 'running' and j.lease_runner_id = $2, false)
            and j.lease_id = r.lease_id and j.fencing_token = r.fencing_token and j.attempts = r.attempt and j.type = r.type
         returning j.id, j.attempts
       ), att as (
         update job_attempts a set finished_at = now(), outcome = 'completed', result_signature = r.signature, runner_cert_fingerprint = r.fingerprint
           from done d join r on r.id = d.id
          where a.tenant_id = $1 and a.job_id = any($4::uuid[]) and a.job_id = d.id and a.attempt = d.attempts and a.finished_at is null
       ), ev as (
         insert into job_events (id, tenant_id, job_id, type, data)
         select gen_random_uuid(), $1, d.id, 'job.completed', jsonb_build_object('status', 'completed', 'attempt', d.attempts, 'runnerId', $2::text)
           from done d
       ), outbox as (
         insert into result_outbox (tenant_id, job_id, attempt, fencing_token, runner_id, cert_fingerprint, signature)
         select $1, d.id, d.attempts, r.fencing_token, $2::text, r.fingerprint, r.signature
           from done d join r on r.id = d.id
          where r.signature is not null and r.fingerprint is not null
       )
       select id from done`,
      [
        tenantId,
        runnerId,
        JSON.stringify(
          items.map((i, n) => ({
            id: i.id,
            lease_id: i.leaseId,
            fencing_token: i.fencingToken,
            type: i.type,
            attempt: i.attempt,
            result: results[n],
            signature: i.signature,
            fingerprint: i.certFingerprint,
            runner_id: i.runnerId,
          })),
        ),
        items.map((i) => i.id),
      ],
    );
    return res.rows.map((r) => r.id);
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
    await q.query(
      `update job_attempts set finished_at = now(), outcome = $4, error = $5, result_signature = $6, runner_cert_fingerprint = $7
        where tenant_id = $1 and job_id = $2 and attempt = $3 and finished_at is null`,
      [tenantId, jobId, attempt, outcome, stored, proof?.signature ?? null, proof?.certFingerprint ?? null],
    );
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
    await q.query(
      `insert into result_outbox (tenant_id, job_id, attempt, fencing_token, runner_id, cert_fingerprint, signature, outcome, failure)
       values ($1, $2, $3, $4::bigint, $5, $6, $7, 'failed', $8::jsonb)
       on conflict (tenant_id, job_id, attempt) do nothing`,
      [tenantId, jobId, attempt, lease.fencingToken, lease.runnerId, proof.certFingerprint, proof.signature, failure],
    );
  }

  /** Was this exact lease already finished with a completion? (idempotent re-sends of a result) */
  async attemptOutcome(q: Sql, tenantId: string, ref: LeaseRef, runnerId: string): Promise<string | undefined> {
    const res = await q.query<{ outcome: string | null }>(
      `select outcome from job_attempts where tenant_id = $1 and job_id = $2 and lease_id = $3 and fencing_token = $4::bigint and runner_id = $5`,
      [tenantId, ref.jobId, ref.leaseId, ref.fencingToken, runnerId],
    );
    return res.rows[0]?.outcome ?? undefined;
  }

  /** Ends a job in a terminal failure state (failed or cancelled), dead-lettering failures. */
  async markTerminal(
    q: Sql,
    tenantId: string,
    jobId: string,
    status: 'failed' | 'cancelled',
    error: ErrorEnvelope,
    result: JobResult | null,
    deadLetter: boolean,
  ): Promise<JobRow> {
    const [storedError, storedResult] = await Promise.all([
      this.#sealError(tenantId, jobId, error),
      this.#sealResult(tenantId, jobId, result),
    ]);
    const res = await q.query<JobRow>(
      `update jobs set status = $3, error = $4, result = $5, lease_id = null, lease_runner_id = null, lease_expires_at = null,
              dead_lettered_at = case when $6 then now() else null end, updated_at = now(), finished_at = now()
        where tenant_id = $1 and id = $2 returning ${JOB_COLUMNS}`,
      [tenantId, jobId, status, storedError, storedResult, deadLetter],
    );
    return this.#open(res.rows[0]!);
  }

  /** Puts a job back in line for another attempt after `delayMs`. */
  async markRetrying(
    q: Sql,
    tenantId: string,
    jobId: string,
    error: ErrorEnvelope | null,
    delayMs: number,
    status: 'retrying' | 'queued' = 'retrying',
  ): Promise<JobRow> {
    const stored = await this.#sealError(tenantId, jobId, error);
    const res = await q.query<JobRow>(
      `update jobs set status = $3, error = $4, run_at = now() + make_interval(secs => $5::double precision / 1000),
              lease_id = null, lease_runner_id = null, lease_expires_at = null, updated_at = now()
        where tenant_id = $1 and id = $2 returning ${JOB_COLUMNS}`,
      [tenantId, jobId, status, stored, delayMs],
    );
    return this.#open(res.rows[0]!);
  }

  /** A lease handed back by a draining runner: queued again now, the attempt not counted against retries. */
  async releaseLease(q: Sql, tenantId: string, jobId: string): Promise<JobRow> {
    const res = await q.query<JobRow>(
      `update jobs set status = 'queued', retry_base = retry_base + 1, run_at = now(), lease_id = null, lease_runner_id = null,
              lease_expires_at = null, updated_at = now()
        where tenant_id = $1 and id = $2 returning ${JOB_COLUMNS}`,
      [tenantId, jobId],
    );
    return this.#open(res.rows[0]!);
  }

  async requestCancel(q: Sql, tenantId: string, jobId: string): Promise<void> {
    await q.query(
      `update jobs set cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now() where tenant_id = $1 and id = $2`,
      [tenantId, jobId],
    );
  }

  /** Re-drives a failed or cancelled job: a fresh retry budget, queued now. */
  async requeue(q: Sql, tenantId: string, jobId: string): Promise<JobRow> {
    const res = await q.query<JobRow>(
      `update jobs set status = 'queued', retry_base = attempts, run_at = now(), error = null, result = null,
              dead_lettered_at = null, cancel_requested_at = null, finished_at = null, updated_at = now()
        where tenant_id = $1 and id = $2 returning ${JOB_COLUMNS}`,
      [tenantId, jobId],
    );
    return this.#open(res.rows[0]!);
  }

  /** Running jobs whose lease has run out, locked for the reaper (any tenant). */
  async lockExpiredLeases(q: Sql, limit: number): Promise<JobRow[]> {
    const res = await q.query<JobRow>(
      `select ${JOB_COLUMNS} from jobs where status = 'running' and lease_expires_at < now()
        order by lease_expires_at limit $1 for update skip locked`,
      [limit],
    );
    return this.#openAll(res.rows);
  }

  /** Waiting jobs past their expiresAt, locked for the expirer (any tenant). */
  async lockExpiredJobs(q: Sql, limit: number): Promise<JobRow[]> {
    const res = await q.query<JobRow>(
      `select ${JOB_COLUMNS} from jobs where status in ('queued', 'retrying') and expires_at is not null and expires_at <= now()
        order by expires_at limit $1 for update skip locked`,
      [limit],
    );
    return this.#openAll(res.rows);
  }

  /** Waiting jobs in id order after `afterKey`, for rebuilding the dispatch queue. */
  async listWaiting(
    q: Sql,
    after: { tenantId: string; id: string } | undefined,
    limit: number,
  ): Promise<Array<Pick<JobRow, 'tenant_id' | 'id' | 'pool' | 'type' | 'priority' | 'run_at'>>> {
    const res = await q.query<Pick<JobRow, 'tenant_id' | 'id' | 'pool' | 'type' | 'priority' | 'run_at'>>(
      `select tenant_id, id, pool, type, priority, run_at from jobs
        where status in ('queued', 'retrying') and cancel_requested_at is null
          and ($1::text is null or (tenant_id, id) > ($1::text, $2::uuid))
        order by tenant_id, id limit $3`,
      [after?.tenantId ?? null, after?.id ?? null, limit],
    );
    return res.rows;
  }
}
