import {
  withArrayDetailPaths,
  type ErrorEnvelope,
  type JobRequest,
  type JobResponse,
  type JobResult,
  type JobStatus,
} from '@controlplane/contracts';

/** A row of the `jobs` table as the storage port returns it (int8 columns arrive as strings). */
export interface JobRow {
  tenant_id: string;
  id: string;
  type: string;
  pool: string;
  priority: number;
  status: JobStatus;
  request: JobRequest;
  request_digest: string;
  attempts: number;
  retry_base: number;
  run_at: Date;
  expires_at: Date | null;
  timeout_ms: number;
  lease_id: string | null;
  lease_runner_id: string | null;
  lease_expires_at: Date | null;
  fencing_token: string | null;
  cancel_requested_at: Date | null;
  result: JobResult | null;
  error: ErrorEnvelope | null;
  dead_lettered_at: Date | null;
  submitted_by: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
  /** The W3C traceparent the job was submitted under (lease statements only; null when tracing is off). */
  trace_parent?: string | null;
  /** The flow the job belongs to (its root's id); null for a root or a plain job. */
  flow_id?: string | null;
  /** created_at as exact text, for page cursors (list statements only). */
  cursor_at?: string;
}

/** The job as the API shows it (JobResponse, plus a few operational fields). */
export function toJobResponse(row: JobRow): JobResponse {
  const res: JobResponse = {
    id: row.id,
    status: row.status,
    request: row.request,
    updatedAt: row.updated_at.toISOString(),
  };
  // Envelopes stored before ErrorDetail paths were arrays are shown in the contract's shape.
  if (row.result) res.result = row.result.error ? { ...row.result, error: withArrayDetailPaths(row.result.error) } : row.result;
  if (row.error) res.error = withArrayDetailPaths(row.error);
  return res;
}

/** What the dispatch queue needs to route a ready job; never the payload. */
export interface ReadyEntry {
  tenantId: string;
  pool: string;
  type: string;
  id: string;
  priority: number;
  /** Epoch ms at which the job may run. */
  runAt: number;
}

export function readyEntryOf(row: Pick<JobRow, 'tenant_id' | 'pool' | 'type' | 'id' | 'priority' | 'run_at'>): ReadyEntry {
  return { tenantId: row.tenant_id, pool: row.pool, type: row.type, id: row.id, priority: row.priority, runAt: row.run_at.getTime() };
}
