export {
  JobLifecycle,
  SERVICE_NAME as JOBFORGE_SERVICE,
  checkJobQuota,
  runningJobHeadroom,
  payloadBytesOf,
  type RunnerIdentity,
  type ResultProof,
  type ClaimOptions,
  type FailureInput,
  type OutcomeAck,
  type JobLifecycleOptions,
} from './lifecycle/index.js';
export {
  JOB_TRANSITIONS,
  JOB_TRANSITION_EVENTS,
  JOB_STATE_SETS,
  CLAIMABLE_STATES,
  LEASED_STATES,
  TERMINAL_STATES,
  WAITING_STATES,
  fromStates,
  targetState,
  transition,
  renderJobStateDiagram,
  type JobTransitionEvent,
} from './job-states.js';
export { jobforgeSql } from './sql.js';
export { JobStore } from './job-store.js';
export { type CompletionRecord, type LeaseRef, type NewJob, type ListJobsFilter, type StoredJobEvent } from './store-records.js';
export { JobTypeRegistry, DEFAULT_POOL, type JobTypeContract } from './job-types.js';
export { type JobRow, type ReadyEntry, toJobResponse, readyEntryOf } from './job-row.js';
export { type JobEnvelope, envelopeOf } from './job-envelope.js';
export { decideRetry, backoffDelay, type RetryDecision } from './retry-policy.js';
export { PostgresQueue, RedisQueue, rankOf, type ClaimRequest, type QueueBackend, type RedisQueueOptions } from './queue/index.js';
export { startJobforge, type JobforgeServer, type JobforgeServerOptions } from './jobforge-server.js';
export { startDuties, DEFAULT_DUTY_INTERVALS, type DutyIntervals } from './duties.js';
export { EnrolmentService, type EnrolmentResult } from './enrolment.js';
export { RunnerRegistry, type RunnerRecord } from './runner-registry.js';
export { createJoinToken, consumeJoinToken, hashJoinToken, JOIN_TOKEN_PREFIX } from './join-tokens.js';
export { envelopeSignatureFields } from './http/runner-routes.js';
export { ResultOutboxDeliverer, type TruthcoreTarget } from './result-outbox.js';
export { Scheduler, nextSlot, slotJobId, type SchedulerOptions, type ScheduleRule } from './schedules/index.js';
