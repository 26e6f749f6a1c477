import type { JobPayload } from '@controlplane/contracts';
import type { JobRow } from './job-row.js';

/**
 * What a runner receives for one leased job. The lease id and fencing token must accompany every
 * later call about this job; `deadline` is when the lease-holder must have finished.
 */
export interface JobEnvelope {
  jobId: string;
  tenantId: string;
  type: string;
  attempt: number;
  leaseId: string;
  fencingToken: string;
  leaseExpiresAt: string;
  timeoutMs: number;
  deadline: string;
  payload: JobPayload;
  correlationId: string | undefined;
  priority: number;
}

export function envelopeOf(row: JobRow): JobEnvelope {
  return {
    jobId: row.id,
    tenantId: row.tenant_id,
    type: row.type,
    attempt: row.attempts,
    leaseId: row.lease_id!,
    fencingToken: row.fencing_token!,
    leaseExpiresAt: row.lease_expires_at!.toISOString(),
    timeoutMs: row.timeout_ms,
    deadline: new Date(row.updated_at.getTime() + row.timeout_ms).toISOString(),
    payload: row.request.payload,
    correlationId: row.request.metadata.correlationId,
    priority: row.priority,
  };
}
