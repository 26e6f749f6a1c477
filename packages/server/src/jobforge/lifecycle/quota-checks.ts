import { AppError } from '@controlplane/contracts';
import type { Sql } from '../../storage/index.js';
import { getTenantQuotas, type TenantQuotas } from '../../tenancy/index.js';
import { jobforgeSql as sql } from '../sql.js';

/**
 * Refuses a submission of `newJobs` jobs whose largest payload is `payloadBytes` bytes when it would
 * break the tenant's quotas, with QUOTA_EXCEEDED (409, RESOURCE_CONFLICT). An oversized payload is
 * not retryable; a full queue is (it drains).
 *
 * Called inside the transaction that inserts the jobs: it takes a transaction-scoped advisory lock
 * per tenant before counting, so concurrent submissions of one tenant (on any replica) are counted
 * one after the other and cannot overshoot the limit together. Tenants without a queued-jobs limit
 * take no lock.
 */
export async function checkJobQuota(tx: Sql, tenantId: string, newJobs: number, payloadBytes: number): Promise<void> {
  const limits = await sql('quota_limits').run<{ max_queued_jobs: number | null; max_payload_bytes: number | null }>(tx, {
    tenant_id: tenantId,
  });
  const q = limits.rows[0];
  if (!q) return;
  if (q.max_payload_bytes !== null && payloadBytes > q.max_payload_bytes) {
    throw new AppError('QUOTA_EXCEEDED', {
      params: { quota: 'payload bytes per job' },
      retryable: false,
      details: [
        {
          path: ['payload'],
          message: `is ${payloadBytes} bytes; this tenant allows at most ${q.max_payload_bytes}`,
          code: 'max_payload_bytes',
        },
      ],
    });
  }
  if (q.max_queued_jobs === null) return;
  await sql('lock_tenant_quota').run(tx, { tenant_id: tenantId });
  const waiting = (await sql('count_waiting_jobs').run<{ n: number }>(tx, { tenant_id: tenantId })).rows[0]?.n ?? 0;
  if (waiting + newJobs > q.max_queued_jobs) {
    throw new AppError('QUOTA_EXCEEDED', {
      params: { quota: 'queued jobs' },
      details: [
        {
          path: ['jobs'],
          message: `${waiting} jobs are waiting and this tenant allows at most ${q.max_queued_jobs}`,
          code: 'max_queued_jobs',
        },
      ],
    });
  }
}

/** How many more jobs the tenant may have running now (Infinity without a limit); a claim leases at most this many. */
export async function runningJobHeadroom(q: Sql, tenantId: string): Promise<number> {
  const res = await sql('running_job_headroom').run<{ max_running_jobs: number | null; running: number }>(q, { tenant_id: tenantId });
  const row = res.rows[0];
  if (!row || row.max_running_jobs === null) return Infinity;
  return Math.max(0, row.max_running_jobs - row.running);
}

/** Bytes of a job's payload as the quota counts them: its JSON text in UTF-8. */
export function payloadBytesOf(payload: unknown): number {
  return payload === undefined ? 0 : Buffer.byteLength(JSON.stringify(payload), 'utf8');
}

const QUOTA_CACHE_MS = 2_000;

/** Tenant quotas, cached briefly: they are read on every submission and claim and change rarely. */
export class TenantQuotaCache {
  readonly #cache = new Map<string, { at: number; quotas: TenantQuotas }>();

  constructor(private readonly db: Sql) {}

  async get(tenantId: string): Promise<TenantQuotas> {
    const hit = this.#cache.get(tenantId);
    if (hit && Date.now() - hit.at < QUOTA_CACHE_MS) return hit.quotas;
    const quotas = await getTenantQuotas(this.db, tenantId);
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(tenantId, { at: Date.now(), quotas });
    return quotas;
  }
}
