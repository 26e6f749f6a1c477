export { CONTRACT_VERSION, CONTRACT_VERSION_STRING, PRODUCT_VERSION } from './version.js';
export { TENANT_ID_PATTERN, TenantId, isTenantId, ACTOR_ID_PATTERN, POOL_NAME_PATTERN, PoolName, ROLES, Role } from './identifiers.js';
export { canonicalJson, canonicalHash, sha256Hex } from './canonical-json.js';
export { IsoDateTime, JsonObject, Identifier } from './common.js';
export {
  ERROR_CATEGORIES,
  ErrorCategory,
  ErrorSeverity,
  ContractVersion,
  ErrorDetail,
  ErrorDetailPath,
  ErrorEnvelope,
  ErrorBody,
} from './error-envelope.js';
export { ERROR_CODES, type ErrorCode, type ErrorCodeSpec, isErrorCode, errorCodeSpec } from './error-codes.js';
export { INTERNAL_ERROR_CODES, type InternalErrorCode, type InternalErrorSpec } from './internal-error-codes.js';
export {
  InternalError,
  isInternalError,
  isInternalErrorCode,
  type InternalErrorOptions,
  type InternalErrorParams,
  type InternalErrorPrefix,
} from './internal-error.js';
export {
  AppError,
  ValidationError,
  JobNotFoundError,
  ForbiddenError,
  ServiceUnavailableError,
  toAppError,
  buildErrorEnvelope,
  errorBody,
  appErrorFromEnvelope,
  type AppErrorOptions,
  type EnvelopeContext,
  type ErrorParams,
} from './app-error.js';
export {
  JOB_STATUSES,
  JobStatus,
  TERMINAL_JOB_STATUSES,
  JobType,
  JobPayload,
  JobMetadata,
  RetryPolicy,
  DEFAULT_RETRYABLE_CATEGORIES,
  DEFAULT_NON_RETRYABLE_CATEGORIES,
  JobRequest,
  type JobRequestInput,
  JobResultMetadata,
  JobResult,
  JobResponse,
  JOB_EVENT_TYPES,
  JobEventType,
  JobEvent,
} from './job.js';
export { SCHEDULE_OVERLAP_POLICIES, SCHEDULE_CATCH_UP_POLICIES, ScheduleJobTemplate, ScheduleInput, Schedule } from './schedule.js';
export { TruthAssertion, type TruthAssertionInput, TruthQuery, type TruthQueryInput, TruthQueryResult } from './truth.js';
export {
  RunnerCapability,
  RunnerRegistrationRequest,
  type RunnerRegistrationRequestInput,
  RunnerStatus,
  RunnerHeartbeat,
} from './runner.js';
export { HealthStatus, HealthCheck } from './health.js';
export { EvidenceItem, EvidencePacket, evidenceHash, verifyEvidencePacket } from './evidence.js';
export { formatPath, detailPath, pointerToPath, withArrayDetailPaths, zodIssuesToDetails, parseOrThrow } from './validation.js';
export { CONTRACT_SCHEMAS, type ContractName, contractJsonSchema, allContractJsonSchemas } from './json-schemas.js';
export {
  LeaseRef,
  JobEnvelope,
  ClaimRequest,
  ClaimResponse,
  HeartbeatRequest,
  HeartbeatResponse,
  ProgressRequest,
  CompleteRequest,
  FailRequest,
  ReleaseRequest,
  OutcomeBatchRequest,
  OutcomeAck,
  OutcomeBatchResponse,
  RegisterResponse,
  EnrollRequest,
  EnrollResponse,
  RenewRequest,
  type OutcomeAckBody,
} from './runner-protocol.js';
export {
  SIGNATURE_HEADER,
  SIGNATURE_VERSION,
  DEFAULT_SIGNATURE_WINDOW_SECONDS,
  canonicalRequestString,
  bodyDigest,
  canonicalPath,
  canonicalQuery,
  formatSignatureHeader,
  parseSignatureHeader,
  type CanonicalRequest,
  type SignatureHeaderFields,
} from './signed-request.js';
export {
  MAX_COALESCED_SUBMISSIONS,
  MAX_COALESCED_ITEM_BYTES,
  CoalescedSubmission,
  CoalescedSubmissionsRequest,
  CoalescedAnswer,
  CoalescedSubmissionsResponse,
} from './service-protocol.js';
