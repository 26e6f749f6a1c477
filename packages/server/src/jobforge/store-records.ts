import type { JobEventType, JobRequest, JobResult, JobStatus } from '@controlplane/contracts';

/** What JobForge's store takes and gives: jobs to insert, events, leases, list filters. */

export interface NewJob {
  tenantId: string;
  request: JobRequest;
  requestDigest: string;
  pool: string;
  runAt: Date;
  submittedBy: string | null;
  /** The submission's W3C traceparent, when tracing is on. */
  traceParent?: string | undefined;
  /** Waits for parents (a flow): inserted pending. */
  waiting?: boolean;
  /** The flow it belongs to (its root job's id). */
  flowId?: string | undefined;
}

export interface JobEventRecord {
  tenantId: string;
  jobId: string;
  type: JobEventType;
  data?: Record<string, unknown> | undefined;
}

export interface StoredJobEvent {
  seq: string;
  id: string;
  job_id: string;
  type: JobEventType;
  created_at: Date;
  data: Record<string, unknown> | null;
}

export interface LeaseGrant {
  runnerId: string;
  leaseMs: number;
  /**
   * The serial number of the certificate the runner presented. With it the lease statement also
   * checks that the runner may be given work (not draining or revoked, certificate not revoked)
   * and leases nothing otherwise, throwing CP_JOBFORGE_RUNNER_MAY_NOT_CLAIM.
   */
  certificateSerial?: string | undefined;
}

export interface LeaseRef {
  jobId: string;
  leaseId: string;
  fencingToken: string;
}

export interface ListJobsFilter {
  status?: JobStatus | undefined;
  type?: string | undefined;
  deadLettered?: boolean | undefined;
  /** Only the jobs of this flow (its root and every job below it). */
  flowId?: string | undefined;
  /** Opaque cursor from a previous page. */
  after?: { createdAt: string; id: string } | undefined;
  limit: number;
}

/** One outcome for moveToCompleted: the lease it claims to hold and the result to record. */
export interface CompletionRecord {
  id: string;
  leaseId: string;
  fencingToken: string;
  type: string;
  attempt: number;
  result: JobResult;
  signature: string | null;
  certFingerprint: string | null;
}
