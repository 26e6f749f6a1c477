import { AppError } from '@controlplane/contracts';
import { z } from 'zod';
import type { Sql } from '../storage/index.js';

/**
 * Per-tenant limits. `null` means "no tenant-specific limit": job counts and payload size are then
 * unbounded, and request rates fall back to the gateway's configured per-tenant default.
 */
export interface TenantQuotas {
  /** Jobs waiting to run (pending, queued, retrying) at once. */
  maxQueuedJobs: number | null;
  /** Jobs leased to runners at once; JobForge enforces it when leasing (runningJobHeadroom). */
  maxRunningJobs: number | null;
  /** Size of one job's `payload`, as UTF-8 JSON. */
  maxPayloadBytes: number | null;
  /** Sustained request rate of the whole tenant at the gateway. */
  requestsPerSecond: number | null;
  /** Largest request burst of the whole tenant at the gateway. */
  burst: number | null;
  updatedAt: Date | null;
  updatedBy: string | null;
}

const Limit = (max: number) => z.number().int().min(0).max(max).nullable();

/** Body of `PUT /admin/tenants/:id/quotas`: every field optional; omitted fields keep their value. */
export const TenantQuotasInput = z
  .object({
    maxQueuedJobs: Limit(100_000_000).optional(),
    maxRunningJobs: Limit(1_000_000).optional(),
    maxPayloadBytes: Limit(1_073_741_824)
      .refine((v) => v === null || v > 0, 'must be positive or null')
      .optional(),
    requestsPerSecond: Limit(1_000_000)
      .refine((v) => v === null || v > 0, 'must be positive or null')
      .optional(),
    burst: Limit(10_000_000)
      .refine((v) => v === null || v > 0, 'must be positive or null')
      .optional(),
  })
  .strict();
export type TenantQuotasInput = z.infer<typeof TenantQuotasInput>;

interface QuotaRow {
  max_queued_jobs: number | null;
  max_running_jobs: number | null;
  max_payload_bytes: number | null;
  requests_per_second: number | null;
  burst: number | null;
  updated_at: Date | null;
  updated_by: string | null;
}

const COLUMNS = 'max_queued_jobs, max_running_jobs, max_payload_bytes, requests_per_second, burst, updated_at, updated_by';

function fromRow(r: QuotaRow | undefined): TenantQuotas {
  return {
    maxQueuedJobs: r?.max_queued_jobs ?? null,
    maxRunningJobs: r?.max_running_jobs ?? null,
    maxPayloadBytes: r?.max_payload_bytes ?? null,
    requestsPerSecond: r?.requests_per_second ?? null,
    burst: r?.burst ?? null,
    updatedAt: r?.updated_at ?? null,
    updatedBy: r?.updated_by ?? null,
  };
}

export async function getTenantQuotas(sql: Sql, tenantId: string): Promise<TenantQuotas> {
  const res = await sql.query<QuotaRow>(`select ${COLUMNS} from tenant_quotas where tenant_id = $1`, [tenantId]);
  return fromRow(res.rows[0]);
}

/** Sets the given fields (others unchanged). The tenant must exist: RESOURCE_NOT_FOUND otherwise. */
export async function putTenantQuotas(
  sql: Sql,
  tenantId: string,
  input: TenantQuotasInput,
  updatedBy: string | null,
): Promise<TenantQuotas> {
  const q = TenantQuotasInput.parse(input);
  const exists = await sql.query('select 1 from tenants where id = $1', [tenantId]);
  if (exists.rowCount === 0) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'tenant' } });
  // $n::int is null → keep; the "set" flags let an explicit null clear a limit.
  const value = (v: number | null | undefined) => (v === undefined ? null : v);
  const set = (v: number | null | undefined) => v !== undefined;
  const res = await sql.query<QuotaRow>(
    `insert into tenant_quotas (tenant_id, max_queued_jobs, max_running_jobs, max_payload_bytes, requests_per_second, burst, updated_by)
     values ($1, $2, $3, $4, $5, $6, $12)
     on conflict (tenant_id) do update set
       max_queued_jobs     = case when $7  then excluded.max_queued_jobs     else tenant_quotas.max_queued_jobs end,
       max_running_jobs    = case when $8  then excluded.max_running_jobs    else tenant_quotas.max_running_jobs end,
       max_payload_bytes   = case when $9  then excluded.max_payload_bytes   else tenant_quotas.max_payload_bytes end,
       requests_per_second = case when $10 then excluded.requests_per_second else tenant_quotas.requests_per_second end,
       burst               = case when $11 then excluded.burst               else tenant_quotas.burst end,
       updated_by = excluded.updated_by, updated_at = now()
     returning ${COLUMNS}`,
    [
      tenantId,
      value(q.maxQueuedJobs),
      value(q.maxRunningJobs),
      value(q.maxPayloadBytes),
      value(q.requestsPerSecond),
      value(q.burst),
      set(q.maxQueuedJobs),
      set(q.maxRunningJobs),
      set(q.maxPayloadBytes),
      set(q.requestsPerSecond),
      set(q.burst),
      updatedBy,
    ],
  );
  return fromRow(res.rows[0]);
}

/** Statuses that count against max_queued_jobs: accepted, not yet leased, not finished. */
const WAITING_STATUSES = ['pending', 'queued', 'retrying'];

/**
 * Refuses a submission of `newJobs` jobs whose largest payload is `payloadBytes` bytes when it would
 * break the tenant's quotas, with QUOTA_EXCEEDED (409, RESOURCE_CONFLICT). An oversized payload is
 * not retryable; a full queue is (it drains).
 *
 * Call it inside the transaction that inserts the jobs: it takes a transaction-scoped advisory lock
 * per tenant before counting, so concurrent submissions of one tenant (on any replica) are counted
 * one after the other and cannot overshoot the limit together. Tenants without a queued-jobs limit
 * take no lock. Outside a transaction the lock is released at once and the check is advisory.
 */
export async function checkJobQuota(sql: Sql, tenantId: string, newJobs: number, payloadBytes: number): Promise<void> {
  const res = await sql.query<{ max_queued_jobs: number | null; max_payload_bytes: number | null }>(
    'select max_queued_jobs, max_payload_bytes from tenant_quotas where tenant_id = $1',
    [tenantId],
  );
  const q = res.rows[0];
  if (!q) return;
  if (q.max_payload_bytes !== null && payloadBytes > q.max_payload_bytes) {
    throw new AppError('QUOTA_EXCEEDED', {
      params: { quota: 'payload bytes per job' },
      retryable: false,
      details: [
        {
          path: 'payload',
          message: `is ${payloadBytes} bytes; this tenant allows at most ${q.max_payload_bytes}`,
          code: 'max_payload_bytes',
        },
      ],
    });
  }
  if (q.max_queued_jobs === null) return;
  await sql.query(`select pg_advisory_xact_lock(hashtext('cp.tenant_quota'), hashtext($1))`, [tenantId]);
  const counted = await sql.query<{ n: number }>('select count(*)::int as n from jobs where tenant_id = $1 and status = any($2::text[])', [
    tenantId,
    WAITING_STATUSES,
  ]);
  const waiting = counted.rows[0]?.n ?? 0;
  if (waiting + newJobs > q.max_queued_jobs) {
    throw new AppError('QUOTA_EXCEEDED', {
      params: { quota: 'queued jobs' },
      details: [
        {
          path: 'jobs',
          message: `${waiting} jobs are waiting and this tenant allows at most ${q.max_queued_jobs}`,
          code: 'max_queued_jobs',
        },
      ],
    });
  }
}

/**
 * How many more jobs the tenant may have running now (Infinity without a limit). JobForge's claim
 * path leases at most this many of the tenant's jobs; call it in the claim transaction.
 */
export async function runningJobHeadroom(sql: Sql, tenantId: string): Promise<number> {
  const res = await sql.query<{ max_running_jobs: number | null; running: number }>(
    `select q.max_running_jobs, (select count(*)::int from jobs j where j.tenant_id = $1 and j.status = 'running') as running
     from tenant_quotas q where q.tenant_id = $1`,
    [tenantId],
  );
  const row = res.rows[0];
  if (!row || row.max_running_jobs === null) return Infinity;
  return Math.max(0, row.max_running_jobs - row.running);
}

/** Bytes of a job's payload as the quota counts them: its JSON text in UTF-8. */
export function payloadBytesOf(payload: unknown): number {
  return payload === undefined ? 0 : Buffer.byteLength(JSON.stringify(payload), 'utf8');
}
