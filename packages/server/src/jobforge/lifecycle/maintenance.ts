import { asSystem, refreshTableStatistics, type StatisticsRefresh } from '../../storage/index.js';
import { readyEntryOf, type ReadyEntry } from '../job-row.js';
import type { JobFlows } from './flows.js';
import { jobEvent, type JobTransitions } from './transitions.js';

/** The tables every job writes to: the ones whose planner statistics must follow their growth. */
const JOB_TABLES = ['jobs', 'job_events', 'job_attempts', 'result_outbox'] as const;

/**
 * What JobForge does by itself, across tenants, in every replica (duties.ts schedules it): reap
 * leases that ran out, expire jobs that waited too long, keep planner statistics fresh. Rows are
 * taken with FOR UPDATE SKIP LOCKED, so two replicas never take the same job.
 */
export class JobMaintenance {
  constructor(
    private readonly t: JobTransitions,
    private readonly flows: JobFlows,
  ) {}

  /** The dispatch queue, whose integrity checks and reconciliation run beside these duties. */
  get queue() {
    return this.t.o.queue;
  }

  /** Retries or fails running jobs whose lease ran out (their runner died or hung). */
  async reapExpiredLeases(limit = 500): Promise<number> {
    return asSystem('reap expired leases', async () => {
      const retries: ReadyEntry[] = [];
      const ended: Array<{ tenantId: string; id: string }> = [];
      const { store, db, logger } = this.t.o;
      const n = await db.transaction(async (tx) => {
        const rows = await store.lockExpiredLeases(tx, limit);
        for (const row of rows) {
          await store.finishAttempt(tx, row.tenant_id, row.id, row.attempts, 'lease_expired', null);
          this.t.o.metrics?.leaseExpirations.inc({ tenant: row.tenant_id, type: row.type });
          if (row.cancel_requested_at) {
            await this.t.cancel(tx, row);
            ended.push({ tenantId: row.tenant_id, id: row.id });
            continue;
          }
          const failure = {
            category: 'RUNNER_ERROR',
            code: 'LEASE_EXPIRED',
            message: 'The runner holding the job stopped renewing its lease.',
            retryable: true,
          } as const;
          const out = await this.t.recordFailure(tx, row, failure, undefined, true);
          if (out.retry) retries.push(out.retry);
          else ended.push({ tenantId: row.tenant_id, id: row.id });
        }
        return rows.length;
      });
      await this.t.enqueue(retries);
      await this.#settle(ended);
      if (n > 0) logger.info({ count: n }, 'reclaimed expired leases');
      return n;
    });
  }

  /** Fails waiting jobs whose expiresAt has passed (the `expire` transition). */
  async expireJobs(limit = 500): Promise<number> {
    return asSystem('expire jobs', async () => {
      const removed: ReadyEntry[] = [];
      const ended: Array<{ tenantId: string; id: string }> = [];
      const { store, db } = this.t.o;
      const n = await db.transaction(async (tx) => {
        const rows = await store.lockExpiredJobs(tx, limit);
        for (const row of rows) {
          const done = await store.moveToFailed(tx, row.tenant_id, row.id, this.t.envelope('JOB_EXPIRED'), null);
          await store.appendEvents(tx, [jobEvent(done, 'job.expired')]);
          this.t.o.metrics?.jobsDeadLettered.inc({ tenant: row.tenant_id, type: row.type });
          removed.push(readyEntryOf(row));
          ended.push({ tenantId: row.tenant_id, id: row.id });
        }
        return rows.length;
      });
      await this.t.dequeue(removed);
      await this.#settle(ended);
      return n;
    });
  }

  /** Settles the flow children of jobs a duty ended, tenant by tenant. */
  async #settle(ended: ReadonlyArray<{ tenantId: string; id: string }>): Promise<void> {
    const byTenant = new Map<string, string[]>();
    for (const e of ended) byTenant.set(e.tenantId, [...(byTenant.get(e.tenantId) ?? []), e.id]);
    for (const [tenantId, ids] of byTenant) await this.flows.settleEnded(tenantId, ids);
  }

  /** Settles flow children a crash left pending after their parents ended. */
  settleFlows(): Promise<number> {
    return this.flows.sweep();
  }

  /** Analyses the job tables that changed enough since their last analysis, where autovacuum does not (storage/table-statistics.ts). */
  refreshStatistics(): Promise<StatisticsRefresh> {
    return asSystem('refresh planner statistics', () => refreshTableStatistics(this.t.o.db, JOB_TABLES));
  }
}
