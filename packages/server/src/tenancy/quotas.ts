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
  /** Jobs leased to runners at once; JobForge enforces it when leasing (its runningJobHeadroom). */
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
