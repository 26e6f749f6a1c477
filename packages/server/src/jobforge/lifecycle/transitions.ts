import {
  AppError,
  buildErrorEnvelope,
  type ErrorCategory,
  type ErrorDetail,
  type ErrorEnvelope,
  type JobEventType,
  type JobResult,
} from '@controlplane/contracts';
import type { Logger, ResultSignatureFields, Tracing } from '@controlplane/platform';
import type { ServerMetrics } from '../../observability/index.js';
import type { Database, Sql } from '../../storage/index.js';
import { readyEntryOf, type JobRow, type ReadyEntry } from '../job-row.js';
import type { JobStore } from '../job-store.js';
import type { JobEventRecord } from '../store-records.js';
import type { JobTypeRegistry } from '../job-types.js';
import type { QueueBackend } from '../queue/index.js';
import { decideRetry } from '../retry-policy.js';
import { TenantQuotaCache } from './quota-checks.js';

export const SERVICE_NAME = 'jobforge';

export interface JobEventListener {
  (tenantId: string, jobId: string, type: JobEventType): void;
}

export interface JobLifecycleOptions {
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
  /** Where job counters and histograms go (labels: tenant and type, never a job id). */
  metrics?: ServerMetrics | undefined;
  /** The service's tracing: a submission's trace context is kept with its job. */
  tracing?: Tracing | undefined;
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

/** The outcome of a failed attempt: the job's new row, and its queue entry when it will run again. */
export interface FailureOutcome {
  row: JobRow;
  retry?: ReadyEntry;
}

/**
 * What every actor of the lifecycle shares: the transitions that more than one of them takes (a
 * failed attempt, a cancellation), the queue hand-off after commit, and job events for listeners.
 * PostgreSQL is the record; the queue backend is told about ready jobs only after the transaction
 * that made them ready commits, so a crash can lose a queue entry (which reconciliation restores)
 * but never a job.
 */
export class JobTransitions {
  readonly quotas: TenantQuotaCache;

  constructor(readonly o: JobLifecycleOptions) {
    this.quotas = new TenantQuotaCache(o.db);
  }

  get store(): JobStore {
    return this.o.store;
  }

  /** The error envelope JobForge records for an outcome it decided itself. */
  envelope(code: 'JOB_CANCELLED' | 'JOB_EXPIRED' | 'HANDLER_FAILED'): ErrorEnvelope {
    return buildErrorEnvelope(new AppError(code), { service: SERVICE_NAME });
  }

  /** The `cancel` transition with its event, for a job whose row the caller holds locked. */
  async cancel(tx: Sql, row: JobRow, data?: Record<string, unknown>): Promise<JobRow> {
    const done = await this.o.store.moveToCancelled(tx, row.tenant_id, row.id, this.envelope('JOB_CANCELLED'));
    await this.o.store.appendEvents(tx, [jobEvent(done, 'job.cancelled', data)]);
    return done;
  }

  /**
   * Records a failed attempt: cancelled if cancellation was asked for, retried per the job's
   * policy (`retry`), or failed and dead-lettered (`fail`). `attemptFinished` when the caller has
   * already closed the attempt (a lease that ran out).
   */
  async recordFailure(
    tx: Sql,
    row: JobRow,
    failure: FailureInput,
    runnerId: string | undefined,
    attemptFinished = false,
    proof?: ResultProof,
  ): Promise<FailureOutcome> {
    const envelope: ErrorEnvelope = {
      ...this.envelope('HANDLER_FAILED'),
      category: failure.category,
      code: failure.code ?? 'HANDLER_FAILED',
      message: failure.message.slice(0, 2000),
      details: failure.details ?? [],
      retryable: failure.retryable,
      ...(row.request.metadata.correlationId ? { correlationId: row.request.metadata.correlationId } : {}),
    };
    const finish = async (outcome: 'failed' | 'cancelled') => {
      if (!attemptFinished) await this.o.store.finishAttempt(tx, row.tenant_id, row.id, row.attempts, outcome, envelope, proof ?? null);
    };
    if (row.cancel_requested_at) {
      await finish('cancelled');
      const done = await this.cancel(tx, row);
      this.emit(done, 'job.cancelled');
      return { row: done };
    }
    await finish('failed');
    const labels = { tenant: row.tenant_id, type: row.type };
    this.o.metrics?.jobsFailed.inc(labels);
    this.o.metrics?.jobRun.observe(labels, Math.max(0, Date.now() - row.updated_at.getTime()) / 1000);
    const decision = decideRetry(row.request.retryPolicy, row.attempts - row.retry_base, envelope);
    if (decision.retry) {
      const next = await this.o.store.moveToRetrying(tx, row.tenant_id, row.id, envelope, decision.delayMs);
      await this.o.store.appendEvents(tx, [
        jobEvent(next, 'job.retrying', { attempt: row.attempts, delayMs: decision.delayMs, code: envelope.code }),
      ]);
      this.emit(next, 'job.retrying');
      return { row: next, retry: readyEntryOf(next) };
    }
    const result: JobResult = {
      success: false,
      error: envelope,
      metadata: {
        completedAt: new Date().toISOString(),
        durationMs: Math.max(0, Date.now() - row.updated_at.getTime()),
        attempts: row.attempts,
        ...(runnerId ? { runnerId } : {}),
      },
    };
    const done = await this.o.store.moveToFailed(tx, row.tenant_id, row.id, envelope, result);
    this.o.metrics?.jobsDeadLettered.inc(labels);
    await this.o.store.appendEvents(tx, [
      jobEvent(done, 'job.failed', { attempt: row.attempts, code: envelope.code, reason: decision.reason }),
    ]);
    this.emit(done, 'job.failed');
    return { row: done };
  }

  /** Hands jobs made ready by a committed transaction to the queue. */
  async enqueue(entries: readonly ReadyEntry[]): Promise<void> {
    if (entries.length === 0) return;
    try {
      const tracing = this.o.tracing;
      const attributes = { 'controlplane.queue': this.o.queue.kind, 'controlplane.jobs': entries.length };
      if (tracing?.enabled) await tracing.inSpan('jobforge.queue.enqueue', { attributes }, () => this.o.queue.enqueue(entries));
      else await this.o.queue.enqueue(entries);
    } catch (err) {
      // The jobs are safe in PostgreSQL; reconciliation puts them back in the queue.
      this.o.logger.warn({ err, count: entries.length }, 'enqueue failed; reconciliation will restore the entries');
    }
  }

  /** Drops queue entries of jobs that can no longer run. Best effort: a stale entry leases nothing. */
  async dequeue(entries: readonly ReadyEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.o.queue
      .remove(entries)
      .catch((err: unknown) => this.o.logger.warn({ err }, 'queue remove failed; the stale entry will be skipped at claim'));
  }

  emit(row: Pick<JobRow, 'tenant_id' | 'id'>, type: JobEventType): void {
    this.o.onEvent?.(row.tenant_id, row.id, type);
  }
}

/** A job event row for `row`, carrying its status. */
export function jobEvent(row: JobRow, type: JobEventType, data?: Record<string, unknown>): JobEventRecord {
  return { tenantId: row.tenant_id, jobId: row.id, type, data: { status: row.status, ...data } };
}
