import { canonicalHash, type JobEnvelope } from '@controlplane/contracts';
import type { JobRow } from './job-row.js';

export type { JobEnvelope } from '@controlplane/contracts';

/**
 * What a runner receives for one leased job. The lease id and fencing token must accompany every
 * later call about this job; `deadline` is when the lease-holder must have finished.
 */
export function envelopeOf(row: JobRow): JobEnvelope {
  const env: JobEnvelope = {
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
    priority: row.priority,
    payloadDigest: canonicalHash(row.request.payload),
  };
  if (row.request.metadata.correlationId) env.correlationId = row.request.metadata.correlationId;
  if (row.trace_parent) env.traceparent = row.trace_parent;
  return env;
}
