import { AppError } from '@controlplane/contracts';
import { z } from 'zod';
import type { Sql } from '../storage/index.js';
import { tenancySql as sql } from './sql.js';
import { tenantExists } from './tenants.js';

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

export async function getTenantQuotas(q: Sql, tenantId: string): Promise<TenantQuotas> {
  const res = await sql('quotas_get').run<QuotaRow>(q, { tenant_id: tenantId });
  return fromRow(res.rows[0]);
}

/** Sets the given fields (others unchanged). The tenant must exist: RESOURCE_NOT_FOUND otherwise. */
export async function putTenantQuotas(q: Sql, tenantId: string, input: TenantQuotasInput, updatedBy: string | null): Promise<TenantQuotas> {
  const given = TenantQuotasInput.parse(input);
  if (!(await tenantExists(q, tenantId))) throw new AppError('RESOURCE_NOT_FOUND', { params: { resource: 'tenant' } });
  const res = await sql('quotas_put').run<QuotaRow>(q, {
    tenant_id: tenantId,
    max_queued_jobs: given.maxQueuedJobs ?? null,
    max_running_jobs: given.maxRunningJobs ?? null,
    max_payload_bytes: given.maxPayloadBytes ?? null,
    requests_per_second: given.requestsPerSecond ?? null,
    burst: given.burst ?? null,
    // An omitted field keeps its value; an explicit null clears the limit.
    set_max_queued_jobs: given.maxQueuedJobs !== undefined,
    set_max_running_jobs: given.maxRunningJobs !== undefined,
    set_max_payload_bytes: given.maxPayloadBytes !== undefined,
    set_requests_per_second: given.requestsPerSecond !== undefined,
    set_burst: given.burst !== undefined,
    updated_by: updatedBy,
  });
  return fromRow(res.rows[0]);
}
