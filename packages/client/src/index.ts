export { ControlPlaneClient, CLIENT_VERSION, type ControlPlaneClientOptions, type WaitOptions } from './client.js';
export { type EventsOptions } from './job-events.js';
export {
  ControlPlaneError,
  InvalidRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  RateLimitedError,
  UnavailableError,
  ConnectionError,
  parseRetryAfter,
} from './errors.js';
export { signRequest, canonicalRequest, SIGNATURE_HEADER, SIGNATURE_VERSION, type SigningKey, type SignInput } from './request-signing.js';
export { type RetryOptions, type RetryNotice } from './transport.js';
export { parseSse, type SseMessage } from './sse.js';
export { readKeyFile, writeKeyFile, keyFileFrom, type KeyFile, type Credentials } from './key-file.js';
// Local failures (a key file that is missing, unreadable or readable by others) carry CP_* codes.
export { InternalError, isInternalError, type InternalErrorCode } from '@controlplane/contracts';
export type {
  ApiKey,
  AuditPage,
  AuditQuery,
  CreateApiKeyInput,
  CreatedApiKey,
  JobAttempt,
  JobPage,
  JobTypeContract,
  JoinToken,
  ListJobsQuery,
  NewJob,
  PutJobTypeInput,
  Role,
  Runner,
  StreamedJobEvent,
  SubmitJobInput,
  Tenant,
  TenantQuotas,
  TenantQuotasInput,
} from './types.js';
export type {
  JobEvent,
  JobRequestInput,
  JobResponse,
  JobStatus,
  ErrorEnvelope,
  HealthCheck,
  Schedule,
  ScheduleInput,
} from '@controlplane/contracts';
