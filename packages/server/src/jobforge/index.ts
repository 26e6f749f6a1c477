export {
  JobService,
  SERVICE_NAME as JOBFORGE_SERVICE,
  type RunnerIdentity,
  type ResultProof,
  type ClaimOptions,
  type FailureInput,
  type OutcomeAck,
  type JobServiceOptions,
} from './lifecycle.js';
export { JobStore, type LeaseRef, type NewJob, type ListJobsFilter, type StoredJobEvent } from './job-store.js';
export { JobTypeRegistry, DEFAULT_POOL, type JobTypeContract } from './job-types.js';
export { type JobRow, type ReadyEntry, toJobResponse, readyEntryOf } from './job-row.js';
export { type JobEnvelope, envelopeOf } from './job-envelope.js';
export { decideRetry, backoffDelay, type RetryDecision } from './retry-policy.js';
export { type QueueBackend, type ClaimRequest } from './queue/queue-backend.js';
export { PostgresQueue } from './queue/postgres-queue.js';
export { RedisQueue, rankOf, type RedisQueueOptions } from './queue/redis-queue.js';
export { startJobforge, type JobforgeServer, type JobforgeServerOptions } from './jobforge-server.js';
export { startDuties, DEFAULT_DUTY_INTERVALS, type DutyIntervals } from './duties.js';
export { EnrolmentService, type EnrolmentResult } from './enrolment.js';
export { RunnerRegistry, type RunnerRecord } from './runner-registry.js';
export { createJoinToken, consumeJoinToken, hashJoinToken, JOIN_TOKEN_PREFIX } from './join-tokens.js';
export { envelopeSignatureFields } from './http/runner-routes.js';
export { ResultOutboxDeliverer, type TruthcoreTarget } from './result-outbox.js';
