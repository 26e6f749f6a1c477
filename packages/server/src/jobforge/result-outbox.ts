import type { Agent } from 'node:https';
import { isValidCorrelationId, requestJson, type FieldCipher, type Logger } from '@controlplane/platform';
import { attemptRowId, JOB_ERROR_SLOTS, JOB_RESULT_SLOTS, openSlots } from '../keys/index.js';
import { FAILURE_REPORT_SLOTS, hasSealedSlot } from '../keys/internal.js';
import { type Database, type Sql, asSystem } from '../storage/index.js';
import type { ErrorEnvelope, JobResult } from '@controlplane/contracts';
import { jobforgeSql as sql } from './sql.js';

export interface TruthcoreTarget {
  url: string;
  /** mTLS agent presenting JobForge's certificate and expecting TruthCore's identity. */
  agent: Agent;
}

interface PendingRow {
  id: string;
  tenant_id: string;
  job_id: string;
  attempt: number;
  fencing_token: string;
  runner_id: string;
  signature: string;
  attempts: number;
  result: JobResult | null;
  outcome: 'completed' | 'failed';
  /** A failure: the runner's report as signed, and the attempt it ended (its envelope and times). */
  failure: Record<string, unknown> | null;
  attempt_error: ErrorEnvelope | null;
  attempt_started_at: Date | null;
  attempt_finished_at: Date | null;
  request_digest: string;
  submitted_by: string | null;
  certificate_pem: string | null;
  correlation_id: string | null;
  trace_parent: string | null;
}

const BATCH = 100;

/** What TruthCore's POST /v1/results takes for one result. */
interface ResultDeliveryBody {
  tenantId: string;
  jobId: string;
  attempt: number;
  fencingToken: string;
  outcome: 'completed' | 'failed';
  result: JobResult;
  failure?: Record<string, unknown>;
  requestDigest: string;
  submittedBy: string;
  runner: { id: string; certificatePem: string };
  signature: string;
}

/** TruthCore's answer for one result of a batch. */
interface ItemAnswer {
  ok: boolean;
  code?: string;
  retryable?: boolean;
}
const MAX_BACKOFF_MS = 60_000;
/** How long a deliverer holds claimed rows before another may take them. */
const CLAIM_MS = 30_000;

export interface ResultOutboxOptions {
  /** The cipher the JobStore encrypts results with; required to deliver results it encrypted. */
  cipher?: FieldCipher | undefined;
}

/**
 * Delivers recorded results from the outbox to TruthCore. Rows are locked with SKIP LOCKED, so
 * every JobForge replica can run a deliverer; each row is delivered until TruthCore acknowledges
 * it (2xx, including "duplicate") or refuses it for good (4xx), with backoff while it is down.
 */
export class ResultOutboxDeliverer {
  readonly #cipher: FieldCipher | undefined;

  constructor(
    private readonly db: Database,
    private readonly target: TruthcoreTarget,
    private readonly logger: Logger,
    options: ResultOutboxOptions = {},
  ) {
    this.#cipher = options.cipher;
  }

  /**
   * Delivers one batch; returns how many rows it settled (delivered or rejected). Rows are claimed
   * in a short transaction (their next attempt pushed out by CLAIM_MS, so other deliverers skip
   * them) and delivered with no transaction open: a slow or unreachable TruthCore never holds a
   * database connection — which on embedded PGlite, a single connection, would stall everything.
   * A deliverer that dies mid-batch leaves its rows to be retried after CLAIM_MS; TruthCore is
   * idempotent on tenant, job and attempt, so such a re-delivery records nothing twice.
   */
  async deliverBatch(): Promise<number> {
    return asSystem('deliver results to TruthCore', async () => {
      const rows = await this.db.transaction(async (tx) => {
        const rows = await this.#lockPending(tx);
        if (rows.length > 0) {
          await sql('outbox_hold').run(tx, { ids: rows.map((r) => r.id), hold_ms: CLAIM_MS });
        }
        return rows;
      });
      let settled = 0;
      // Several results travel in one request: TruthCore answers for each on its own.
      const prepared = await Promise.all(rows.map((row) => this.#prepare(row)));
      const deliverable: Array<{ row: PendingRow; body: ResultDeliveryBody }> = [];
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        const p = prepared[i]!;
        if (p === 'rejected') {
          await sql('outbox_rejected').run(this.db, { id: row.id });
          settled++;
        } else if ('error' in p) await this.#retryLater(row, p.error);
        else deliverable.push({ row, body: p.body });
      }
      if (deliverable.length === 0) return settled;
      const answers = await this.#send(deliverable);
      if ('unreachable' in answers) {
        // TruthCore is down: back off on all of them, the first one counting the attempt.
        for (const { row } of deliverable) await this.#retryLater(row, answers.error);
        return settled;
      }
      const delivered: string[] = [];
      for (let i = 0; i < deliverable.length; i++) {
        const { row } = deliverable[i]!;
        const a = answers[i];
        if (a?.ok) delivered.push(row.id);
        else if (a && !a.retryable) {
          this.logger.error({ jobId: row.job_id, attempt: row.attempt, code: a.code }, 'TruthCore refused a result; not retrying');
          await sql('outbox_rejected').run(this.db, { id: row.id });
          settled++;
        } else await this.#retryLater(row, a ? `refused for now: ${a.code}` : 'no answer for this result');
      }
      if (delivered.length > 0) await sql('outbox_delivered_many').run(this.db, { ids: delivered });
      return settled + delivered.length;
    });
  }

  async #retryLater(row: PendingRow, error: string): Promise<void> {
    const backoff = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(row.attempts, 12));
    await sql('outbox_retry_later').run(this.db, { id: row.id, last_error: error, backoff_ms: backoff });
  }

  /** One request for the batch; per-item answers, or why nothing could be delivered. */
  async #send(
    items: ReadonlyArray<{ row: PendingRow; body: ResultDeliveryBody }>,
  ): Promise<ItemAnswer[] | { unreachable: true; error: string }> {
    try {
      const res = await requestJson({
        url: `${this.target.url}/v1/results/batch`,
        method: 'POST',
        // Each result under its job's own correlation id, so TruthCore's log lines join the rest.
        body: {
          results: items.map(({ row, body }) => ({
            correlationId: isValidCorrelationId(row.correlation_id) ? row.correlation_id : `outbox-${row.job_id}`,
            ...(row.trace_parent ? { traceparent: row.trace_parent } : {}),
            delivery: body,
          })),
        },
        agent: this.target.agent,
        timeoutMs: 10_000,
      });
      if (res.status >= 200 && res.status < 300) return (res.body as { results?: ItemAnswer[] }).results ?? [];
      const code = (res.body as { error?: { code?: string } })?.error?.code ?? `HTTP ${res.status}`;
      // A refusal of the whole request (it is malformed, or this JobForge may not write): nothing
      // in it can succeed as it is, but the rows are kept for an operator rather than dropped.
      return { unreachable: true, error: `TruthCore answered ${res.status} (${code})` };
    } catch (err) {
      return { unreachable: true, error: (err as Error).message.slice(0, 500) };
    }
  }

  async pending(q: Sql = this.db): Promise<number> {
    return asSystem('count undelivered results', async () => {
      const res = await sql('outbox_pending_count').run<{ n: number }>(q);
      return res.rows[0]!.n;
    });
  }

  async #lockPending(tx: Sql): Promise<PendingRow[]> {
    const res = await sql('outbox_lock_pending').run<PendingRow>(tx, { limit: BATCH });
    return res.rows;
  }

  /** The body TruthCore is to receive for `row`, or why it cannot be sent (now, or ever). */
  async #prepare(row: PendingRow): Promise<{ body: ResultDeliveryBody } | 'rejected' | { error: string }> {
    const sealed =
      row.outcome === 'completed'
        ? hasSealedSlot(row.result, JOB_RESULT_SLOTS)
        : hasSealedSlot(row.failure, FAILURE_REPORT_SLOTS) || hasSealedSlot(row.attempt_error, JOB_ERROR_SLOTS);
    // The runner signed the digest of the clear value, so TruthCore must receive it clear (over mTLS).
    if (!this.#cipher && sealed) {
      this.logger.error(
        { jobId: row.job_id, attempt: row.attempt },
        'outbox result is encrypted but this JobForge has no cipher; will retry',
      );
      return { error: 'result is encrypted and no cipher is configured' };
    }
    let opened: { result: JobResult; failure?: Record<string, unknown> } | undefined;
    try {
      opened = await this.#open(row);
    } catch (err) {
      // Kept for retry rather than rejected: a missing KEK is an operator fault that can be repaired.
      const reason = (err as { reason?: string; code?: string }).reason ?? (err as { code?: string }).code ?? 'unknown';
      this.logger.error({ jobId: row.job_id, attempt: row.attempt, reason }, 'outbox result cannot be decrypted; will retry');
      return { error: `result cannot be decrypted (${reason})` };
    }
    if (!opened || !row.certificate_pem) {
      this.logger.error({ jobId: row.job_id, attempt: row.attempt }, 'outbox row has no result or runner certificate; cannot be delivered');
      return 'rejected';
    }
    const body: ResultDeliveryBody = {
      tenantId: row.tenant_id,
      jobId: row.job_id,
      attempt: row.attempt,
      fencingToken: String(row.fencing_token),
      outcome: row.outcome,
      result: opened.result,
      ...(opened.failure ? { failure: opened.failure } : {}),
      requestDigest: row.request_digest,
      submittedBy: row.submitted_by ?? 'unknown',
      runner: { id: row.runner_id, certificatePem: row.certificate_pem },
      signature: row.signature,
    };
    return { body };
  }

  /**
   * The result as TruthCore is to receive it. A completion's is the job's result. A failure's is
   * built from its attempt (the envelope JobForge recorded, the attempt's times), and goes with the
   * runner's report, which is what the signature covers.
   */
  async #open(row: PendingRow): Promise<{ result: JobResult; failure?: Record<string, unknown> } | undefined> {
    if (row.outcome === 'completed') {
      if (!row.result) return undefined;
      return {
        result: await openSlots(this.#cipher, { tenantId: row.tenant_id, table: 'jobs', rowId: row.job_id }, row.result, JOB_RESULT_SLOTS),
      };
    }
    if (!row.failure || !row.attempt_error || !row.attempt_finished_at) return undefined;
    const rowId = attemptRowId(row.job_id, row.attempt);
    const [failure, error] = await Promise.all([
      openSlots(this.#cipher, { tenantId: row.tenant_id, table: 'result_outbox', rowId }, row.failure, FAILURE_REPORT_SLOTS),
      openSlots(this.#cipher, { tenantId: row.tenant_id, table: 'job_attempts', rowId }, row.attempt_error, JOB_ERROR_SLOTS),
    ]);
    const started = row.attempt_started_at;
    const finished = row.attempt_finished_at;
    return {
      failure,
      result: {
        success: false,
        error,
        metadata: {
          ...(started ? { startedAt: started.toISOString() } : {}),
          completedAt: finished.toISOString(),
          durationMs: started ? Math.max(0, finished.getTime() - started.getTime()) : 0,
          attempts: row.attempt,
          runnerId: row.runner_id,
        },
      },
    };
  }
}
