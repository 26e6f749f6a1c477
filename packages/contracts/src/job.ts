import { z } from 'zod';
import { IsoDateTime, JsonObject } from './common.js';
import { ErrorCategory, ErrorEnvelope } from './error-envelope.js';

export const JOB_STATUSES = ['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'retrying'] as const;
export const JobStatus = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatus>;
/** Statuses from which a job never moves on by itself. */
export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

/** A job type name: lowercase words separated by '.', '-', '_' or ':' (e.g. `image.resize`). */
export const JobType = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[a-z0-9][a-z0-9._:-]*$/, 'must be lowercase letters, digits and . _ : - (starting with a letter or digit)');

export const JobPayload = z.object({
  type: z.string().min(1).max(128),
  version: z.string().min(1).max(64).default('1.0.0'),
  data: JsonObject,
  options: JsonObject.default({}),
});
export type JobPayload = z.infer<typeof JobPayload>;

export const JobMetadata = z.object({
  source: z.string().min(1).max(256),
  userId: z.string().max(256).optional(),
  sessionId: z.string().max(256).optional(),
  correlationId: z.string().max(128).optional(),
  causationId: z.string().max(128).optional(),
  tags: z.array(z.string().min(1).max(128)).max(64).default([]),
  createdAt: IsoDateTime,
  scheduledAt: IsoDateTime.optional(),
  expiresAt: IsoDateTime.optional(),
  /**
   * Jobs of one type sharing a key (a customer, a repository) hold at most the type's
   * `concurrencyLimit` leases at once (1 when the type sets none); other keys do not wait on them.
   */
  concurrencyKey: z.string().min(1).max(256).optional(),
});
export type JobMetadata = z.infer<typeof JobMetadata>;

export const DEFAULT_RETRYABLE_CATEGORIES: ErrorCategory[] = [
  'TIMEOUT',
  'NETWORK_ERROR',
  'RUNNER_ERROR',
  'SERVICE_UNAVAILABLE',
  'RUNTIME_ERROR',
];
export const DEFAULT_NON_RETRYABLE_CATEGORIES: ErrorCategory[] = [
  'VALIDATION_ERROR',
  'SCHEMA_MISMATCH',
  'AUTHENTICATION_ERROR',
  'AUTHORIZATION_ERROR',
];

export const RetryPolicy = z
  .object({
    maxRetries: z.number().int().min(0).max(100).default(3),
    backoffMs: z.number().int().min(0).max(86_400_000).default(1000),
    maxBackoffMs: z.number().int().min(0).max(86_400_000).default(60_000),
    backoffMultiplier: z.number().min(1).max(100).default(2),
    retryableCategories: z.array(ErrorCategory).max(32).default(DEFAULT_RETRYABLE_CATEGORIES),
    nonRetryableCategories: z.array(ErrorCategory).max(32).default(DEFAULT_NON_RETRYABLE_CATEGORIES),
  })
  .refine((p) => p.maxBackoffMs >= p.backoffMs, { message: 'maxBackoffMs must be at least backoffMs', path: ['maxBackoffMs'] });
export type RetryPolicy = z.infer<typeof RetryPolicy>;

export const JobRequest = z
  .object({
    id: z.uuid(),
    type: JobType,
    priority: z.number().int().min(0).max(100).default(50),
    payload: JobPayload,
    metadata: JobMetadata,
    retryPolicy: RetryPolicy.default(() => RetryPolicy.parse({})),
    timeoutMs: z.number().int().min(1).max(86_400_000).default(30_000),
    /** Parents (jobs of the same tenant, or of the same batch): this job waits until they end. */
    dependsOn: z.array(z.uuid()).min(1).max(100).optional(),
    /** What a failed or cancelled parent does to this job; default `fail`. */
    parentPolicy: z.enum(['fail', 'cancel', 'ignore']).optional(),
  })
  .refine((r) => !r.dependsOn || new Set(r.dependsOn).size === r.dependsOn.length, {
    message: 'names a parent twice',
    path: ['dependsOn'],
  })
  .refine((r) => !r.dependsOn?.includes(r.id), { message: 'a job cannot depend on itself', path: ['dependsOn'] })
  .refine((r) => !r.metadata.expiresAt || !r.metadata.scheduledAt || r.metadata.expiresAt > r.metadata.scheduledAt, {
    message: 'expiresAt must be after scheduledAt',
    path: ['metadata', 'expiresAt'],
  });
/** A JobRequest after defaults are applied. */
export type JobRequest = z.infer<typeof JobRequest>;
/** A JobRequest as a client may send it (defaults optional). */
export type JobRequestInput = z.input<typeof JobRequest>;

export const JobResultMetadata = z.object({
  startedAt: IsoDateTime.optional(),
  completedAt: IsoDateTime,
  durationMs: z.number().nonnegative(),
  attempts: z.number().int().min(1),
  runnerId: z.string().max(256).optional(),
  runnerVersion: z.string().max(64).optional(),
});

export const JobResult = z.object({
  success: z.boolean(),
  data: z.json().optional(),
  error: ErrorEnvelope.optional(),
  metadata: JobResultMetadata,
});
export type JobResult = z.infer<typeof JobResult>;

export const JobResponse = z.object({
  id: z.uuid(),
  status: JobStatus,
  request: JobRequest,
  result: JobResult.optional(),
  error: ErrorEnvelope.optional(),
  updatedAt: IsoDateTime,
  /** In a flow: the root job's id, its parents and its children (GET /v1/jobs/:id). */
  flowId: z.uuid().optional(),
  parents: z.array(z.uuid()).optional(),
  children: z.array(z.uuid()).optional(),
});
export type JobResponse = z.infer<typeof JobResponse>;

export const JOB_EVENT_TYPES = [
  'job.created',
  'job.queued',
  'job.started',
  'job.progress',
  'job.completed',
  'job.failed',
  'job.cancelled',
  'job.retrying',
  'job.expired',
] as const;
export const JobEventType = z.enum(JOB_EVENT_TYPES);
export type JobEventType = z.infer<typeof JobEventType>;

export const JobEvent = z.object({
  id: z.uuid(),
  type: JobEventType,
  jobId: z.uuid(),
  timestamp: IsoDateTime,
  data: JsonObject.optional(),
  metadata: z.object({ service: z.string().min(1).max(128), version: z.string().min(1).max(64) }),
});
export type JobEvent = z.infer<typeof JobEvent>;
