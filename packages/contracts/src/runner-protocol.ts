import { z } from 'zod';
import { IsoDateTime, JsonObject } from './common.js';
import { ErrorCategory, ErrorDetail } from './error-envelope.js';
import { JobPayload, JobType } from './job.js';
import { RunnerHeartbeat } from './runner.js';

/**
 * The runner protocol spoken between runners and JobForge over mTLS (runner identity comes from
 * the client certificate, never from a body field). Field names follow the ecosystem contracts.
 */

const FencingToken = z.string().regex(/^[1-9][0-9]{0,18}$/, 'must be a positive integer string');

export const LeaseRef = z.object({
  jobId: z.uuid(),
  leaseId: z.uuid(),
  fencingToken: FencingToken,
});
export type LeaseRef = z.infer<typeof LeaseRef>;

/** One leased job as a runner receives it. */
export const JobEnvelope = z.object({
  jobId: z.uuid(),
  tenantId: z.string(),
  type: JobType,
  attempt: z.number().int().min(1),
  leaseId: z.uuid(),
  fencingToken: FencingToken,
  leaseExpiresAt: IsoDateTime,
  timeoutMs: z.number().int().positive(),
  deadline: IsoDateTime,
  payload: JobPayload,
  correlationId: z.string().optional(),
  /** The W3C traceparent of the job's submission, when tracing is on: the runner's span joins that trace. */
  traceparent: z
    .string()
    .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
    .optional(),
  priority: z.number().int().min(0).max(100),
  /** SHA-256 (hex) of the canonical JSON of `payload`. */
  payloadDigest: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .optional(),
  /** JobForge's signature over the envelope's identifying fields (see docs). */
  signature: z.string().optional(),
});
export type JobEnvelope = z.infer<typeof JobEnvelope>;

export const ClaimRequest = z.object({
  max: z.number().int().min(1).max(500).default(1),
  waitMs: z.number().int().min(0).max(60_000).default(0),
  types: z.array(JobType).max(256).optional(),
});
export type ClaimRequest = z.infer<typeof ClaimRequest>;

export const ClaimResponse = z.object({
  jobs: z.array(JobEnvelope),
  /** JobForge's signature over the identifying fields of every envelope in `jobs` (absent when empty). */
  signature: z.string().optional(),
});
export type ClaimResponse = z.infer<typeof ClaimResponse>;

export const HeartbeatRequest = z.object({
  heartbeat: RunnerHeartbeat,
  leases: z.array(LeaseRef).max(10_000).default([]),
});
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

export const HeartbeatResponse = z.object({
  /** Jobs the runner holds that have been cancelled: stop them and report. */
  cancel: z.array(z.uuid()),
  /** Leases the runner claimed to hold that are no longer its own: stop them, report nothing. */
  lost: z.array(z.uuid()),
  leaseExpiresAt: IsoDateTime,
});
export type HeartbeatResponse = z.infer<typeof HeartbeatResponse>;

export const ProgressRequest = z.object({
  leaseId: z.uuid(),
  fencingToken: FencingToken,
  pct: z.number().min(0).max(100).optional(),
  message: z.string().max(1024).optional(),
});
export type ProgressRequest = z.infer<typeof ProgressRequest>;

export const CompleteRequest = z.object({
  leaseId: z.uuid(),
  fencingToken: FencingToken,
  /** The attempt and job type from the envelope; JobForge re-checks both against the lease. */
  attempt: z.number().int().min(1).optional(),
  type: JobType.optional(),
  data: z.json().optional(),
  startedAt: IsoDateTime.optional(),
  /** The runner's signature over the result (see docs). */
  signature: z.string().max(1024).optional(),
  evidence: JsonObject.optional(),
});
export type CompleteRequest = z.infer<typeof CompleteRequest>;

export const FailRequest = z.object({
  leaseId: z.uuid(),
  fencingToken: FencingToken,
  error: z.object({
    category: ErrorCategory,
    code: z.string().min(1).max(128).optional(),
    message: z.string().max(4096),
    retryable: z.boolean(),
    details: z.array(ErrorDetail).max(100).optional(),
  }),
  signature: z.string().max(1024).optional(),
});
export type FailRequest = z.infer<typeof FailRequest>;

export const ReleaseRequest = z.object({ leaseId: z.uuid(), fencingToken: FencingToken });
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

/** Many outcomes in one call, for throughput; each is accepted or refused on its own. */
export const OutcomeBatchRequest = z.object({
  completions: z
    .array(CompleteRequest.extend({ jobId: z.uuid() }))
    .max(1000)
    .default([]),
  failures: z
    .array(FailRequest.extend({ jobId: z.uuid() }))
    .max(1000)
    .default([]),
});
export type OutcomeBatchRequest = z.infer<typeof OutcomeBatchRequest>;

export const OutcomeAck = z.object({
  jobId: z.uuid(),
  ok: z.boolean(),
  status: z.string().optional(),
  duplicate: z.boolean().optional(),
  code: z.string().optional(),
});
export type OutcomeAckBody = z.infer<typeof OutcomeAck>;

export const OutcomeBatchResponse = z.object({ results: z.array(OutcomeAck) });

export const RegisterResponse = z.object({
  runnerId: z.string(),
  tenantId: z.string(),
  pool: z.string(),
  jobTypes: z.array(z.string()),
  leaseMs: z.number().int().positive(),
  heartbeatIntervalMs: z.number().int().positive(),
  /** The certificate whose key signs job envelopes; the runner checks it chains to its CA. */
  jobforgeCertificatePem: z.string(),
});
export type RegisterResponse = z.infer<typeof RegisterResponse>;

export const EnrollRequest = z.object({
  joinToken: z.string().min(1).max(256),
  csr: z.string().min(1).max(16_384),
  name: z.string().min(1).max(256).default('runner'),
});
export type EnrollRequest = z.infer<typeof EnrollRequest>;

export const EnrollResponse = z.object({
  runnerId: z.string(),
  spiffeId: z.string(),
  tenantId: z.string(),
  pool: z.string(),
  certificatePem: z.string(),
  caCertificatePem: z.string(),
  notAfter: IsoDateTime,
  /** Where the runner protocol (mTLS) is served; the runner uses it from now on. */
  runnerApiUrl: z.string().optional(),
});
export type EnrollResponse = z.infer<typeof EnrollResponse>;

export const RenewRequest = z.object({ csr: z.string().min(1).max(16_384) });
export type RenewRequest = z.infer<typeof RenewRequest>;
