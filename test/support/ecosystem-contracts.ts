// The ecosystem's contracts as SPEC.md §2 publishes them, written down here independently of
// packages/contracts (which the services use): a response that passes our own schemas but drifts
// from these (a dotted ErrorDetail path, a renamed field, a missing default) fails the contract tests.
// Objects reject unknown keys only where the contract is closed (the ErrorEnvelope and its details);
// elsewhere, as in the ecosystem's Zod objects, extra operational fields are allowed.
import { z } from 'zod';

const isoDateTime = z.iso.datetime({ offset: true });
const jsonObject = z.record(z.string(), z.json());

export const EcoErrorCategory = z.enum([
  'VALIDATION_ERROR',
  'SCHEMA_MISMATCH',
  'RUNTIME_ERROR',
  'TIMEOUT',
  'NETWORK_ERROR',
  'AUTHENTICATION_ERROR',
  'AUTHORIZATION_ERROR',
  'RESOURCE_NOT_FOUND',
  'RESOURCE_CONFLICT',
  'RATE_LIMITED',
  'SERVICE_UNAVAILABLE',
  'RUNNER_ERROR',
  'TRUTHCORE_ERROR',
  'INTERNAL_ERROR',
]);

export const EcoErrorDetail = z.strictObject({
  path: z.array(z.string()).optional(),
  message: z.string(),
  code: z.string().optional(),
});

export const EcoErrorEnvelope = z.strictObject({
  id: z.uuid(),
  timestamp: isoDateTime,
  category: EcoErrorCategory,
  severity: z.enum(['fatal', 'error', 'warning', 'info']),
  code: z.string().min(1),
  message: z.string(),
  details: z.array(EcoErrorDetail),
  service: z.string().min(1),
  operation: z.string().optional(),
  correlationId: z.string().optional(),
  causationId: z.string().optional(),
  retryable: z.boolean(),
  retryAfter: z.number().nonnegative().optional(),
  contractVersion: z.strictObject({ major: z.number().int(), minor: z.number().int(), patch: z.number().int() }),
});

export const EcoErrorBody = z.strictObject({ error: EcoErrorEnvelope });

export const EcoJobStatus = z.enum(['pending', 'queued', 'running', 'completed', 'failed', 'cancelled', 'retrying']);

export const EcoJobRequest = z.object({
  id: z.uuid(),
  type: z.string(),
  priority: z.number().int().min(0).max(100),
  payload: z.object({ type: z.string(), version: z.string(), data: jsonObject, options: jsonObject }),
  metadata: z.object({
    source: z.string(),
    userId: z.string().optional(),
    sessionId: z.string().optional(),
    correlationId: z.string().optional(),
    causationId: z.string().optional(),
    tags: z.array(z.string()),
    createdAt: isoDateTime,
    scheduledAt: isoDateTime.optional(),
    expiresAt: isoDateTime.optional(),
  }),
  retryPolicy: z.object({
    maxRetries: z.number().int().nonnegative(),
    backoffMs: z.number().nonnegative(),
    maxBackoffMs: z.number().nonnegative(),
    backoffMultiplier: z.number(),
    retryableCategories: z.array(EcoErrorCategory),
    nonRetryableCategories: z.array(EcoErrorCategory),
  }),
  timeoutMs: z.number().int().positive(),
});

export const EcoJobResult = z.object({
  success: z.boolean(),
  data: z.json().optional(),
  error: EcoErrorEnvelope.optional(),
  metadata: z.object({
    startedAt: isoDateTime.optional(),
    completedAt: isoDateTime,
    durationMs: z.number().nonnegative(),
    attempts: z.number().int().min(1),
    runnerId: z.string().optional(),
    runnerVersion: z.string().optional(),
  }),
});

export const EcoJobResponse = z.object({
  id: z.uuid(),
  status: EcoJobStatus,
  request: EcoJobRequest,
  result: EcoJobResult.optional(),
  error: EcoErrorEnvelope.optional(),
  updatedAt: isoDateTime,
});

export const EcoJobEvent = z.object({
  id: z.uuid(),
  type: z.enum([
    'job.created',
    'job.queued',
    'job.started',
    'job.progress',
    'job.completed',
    'job.failed',
    'job.cancelled',
    'job.retrying',
    'job.expired',
  ]),
  jobId: z.uuid(),
  timestamp: isoDateTime,
  data: jsonObject.optional(),
  metadata: z.object({ service: z.string(), version: z.string() }),
});

export const EcoTruthAssertion = z.object({
  id: z.uuid(),
  subject: z.string(),
  predicate: z.string(),
  object: z.json(),
  confidence: z.number().min(0).max(1),
  timestamp: isoDateTime,
  source: z.string(),
  expiresAt: isoDateTime.optional(),
  metadata: jsonObject,
});

export const EcoTruthQueryResult = z.object({
  assertions: z.array(EcoTruthAssertion),
  totalCount: z.number().int().nonnegative(),
  hasMore: z.boolean(),
  queryTimeMs: z.number().nonnegative(),
});

const healthStatus = z.enum(['healthy', 'degraded', 'unhealthy']);
export const EcoHealthCheck = z.object({
  status: healthStatus,
  service: z.string(),
  version: z.string(),
  timestamp: isoDateTime,
  uptime: z.number().nonnegative(),
  checks: z.array(z.object({ name: z.string(), status: healthStatus })),
});

/** Parses, and on failure throws with every issue and the value, so a drift names its field. */
export function expectContract<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const res = schema.safeParse(value);
  if (!res.success) {
    throw new Error(`${what} drifts from the ecosystem contract: ${z.prettifyError(res.error)}\n${JSON.stringify(value, null, 2)}`);
  }
  return res.data;
}
