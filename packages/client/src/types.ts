import type { JobEvent, JobRequestInput, JobResponse, JobStatus, RetryPolicy, Role } from '@controlplane/contracts';

/** The gateway's roles (docs/rbac.md). */
export type { Role };

/**
 * A job to submit, in short form: the client fills in the id, `payload.type`, `metadata.source` and
 * `metadata.createdAt`. Pass a full `JobRequestInput` (with `payload`) to control every field.
 */
export interface NewJob {
  type: string;
  data?: Record<string, unknown>;
  /** Submitting the same id again is idempotent: the job is not created twice. */
  id?: string;
  priority?: number;
  timeoutMs?: number;
  retryPolicy?: Partial<RetryPolicy>;
  tags?: string[];
  scheduledAt?: string;
  /** Jobs of one type sharing a key hold at most the type's `concurrencyLimit` leases at once. */
  concurrencyKey?: string;
  /** Parents (ids of this tenant's jobs, or of the same batch): the job waits until they end. */
  dependsOn?: string[];
  /** What a failed or cancelled parent does to the job (default `fail`). */
  parentPolicy?: 'fail' | 'cancel' | 'ignore';
  source?: string;
}

export type SubmitJobInput = NewJob | JobRequestInput;

export interface ListJobsQuery {
  status?: JobStatus;
  type?: string;
  deadLettered?: boolean;
  /** Only the jobs of this flow: its root job's id. */
  flow?: string;
  /** 1-500, default 50. */
  limit?: number;
  cursor?: string;
}

export interface JobPage {
  jobs: JobResponse[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

/** A job event from the stream, with its position (what `Last-Event-ID` resumes from). */
export type StreamedJobEvent = JobEvent & { seq: string | undefined };

export interface JobAttempt {
  [field: string]: unknown;
}

export interface ApiKey {
  id: string;
  tenantId: string;
  prefix: string;
  role: Role;
  name: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  createdBy: string | null;
  createdAt: string;
}

export interface CreatedApiKey extends ApiKey {
  /** The bearer key: shown once, never stored by the server. */
  key: string;
  signingKeyId: string;
  signingPublicKey: string;
  /** PKCS#8 PEM, only when the server generated the pair: shown once. */
  signingPrivateKey?: string;
}

export interface CreateApiKeyInput {
  name: string;
  role: Role;
  /** ISO date-time in the future. */
  expiresAt?: string;
  /** Platform administrators only: the tenant to create the key in. */
  tenantId?: string;
  /** Your own Ed25519 public key (SPKI PEM); leave out to have the server generate a pair. */
  signingPublicKey?: string;
}

export interface JoinToken {
  id: string;
  /** Single use; shown once. */
  token: string;
  tenantId: string;
  pool: string;
  expiresAt: string;
}

export interface Runner {
  id: string;
  name: string;
  pool: string;
  version: string;
  jobTypes: string[];
  tags: string[];
  status: string;
  lastHeartbeatAt: string | null;
  revokedAt: string | null;
  createdAt: string;
}

export interface JobTypeContract {
  type: string;
  pool: string;
  inputSchema: Record<string, unknown> | null;
  outputSchema: Record<string, unknown> | null;
  /** Jobs of one `metadata.concurrencyKey` that may hold a lease at once (null: 1). */
  concurrencyLimit: number | null;
  version: number;
  updatedAt: string;
}

export interface PutJobTypeInput {
  inputSchema?: Record<string, unknown> | null;
  outputSchema?: Record<string, unknown> | null;
  pool?: string;
  concurrencyLimit?: number | null;
}

export interface Tenant {
  id: string;
  name: string;
  status: 'active' | 'suspended';
  createdAt: string;
}

export interface TenantQuotas {
  tenantId: string;
  maxQueuedJobs: number | null;
  maxRunningJobs: number | null;
  maxPayloadBytes: number | null;
  requestsPerSecond: number | null;
  burst: number | null;
  updatedAt: string | null;
  updatedBy: string | null;
}

export type TenantQuotasInput = Partial<
  Pick<TenantQuotas, 'maxQueuedJobs' | 'maxRunningJobs' | 'maxPayloadBytes' | 'requestsPerSecond' | 'burst'>
>;

export interface AuditQuery {
  tenant?: string;
  action?: string;
  actor?: string;
  after?: string;
  before?: string;
  limit?: number;
  cursor?: string;
}

export interface AuditPage {
  events: Array<Record<string, unknown>>;
  nextCursor: string | null;
}
