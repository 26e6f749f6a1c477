import type { ErrorCategory, ErrorSeverity } from './error-envelope.js';

export interface ErrorCodeSpec {
  /** HTTP status the code is answered with. */
  readonly status: number;
  readonly category: ErrorCategory;
  /** Whether the same request may succeed if sent again later. */
  readonly retryable: boolean;
  /** The public message. Never carries internals; `{name}` placeholders are filled from params. */
  readonly message: string;
  readonly severity?: ErrorSeverity;
}

/**
 * The one registry of error codes. Callers branch on the code, never on message text.
 * docs/errors.md documents every entry (a test keeps the two in step).
 */
export const ERROR_CODES = {
  // 400 — the request itself is wrong
  VALIDATION_FAILED: { status: 400, category: 'VALIDATION_ERROR', retryable: false, message: 'The request is not valid.' },
  MALFORMED_JSON: { status: 400, category: 'VALIDATION_ERROR', retryable: false, message: 'The request body is not valid JSON.' },
  JSON_TOO_DEEP: {
    status: 400,
    category: 'VALIDATION_ERROR',
    retryable: false,
    message: 'The request body nests deeper than {limit} levels.',
  },
  FORBIDDEN_KEY: { status: 400, category: 'VALIDATION_ERROR', retryable: false, message: 'The request body contains a forbidden key.' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    category: 'VALIDATION_ERROR',
    retryable: false,
    message: 'The request body must be application/json.',
  },
  BODY_TOO_LARGE: {
    status: 413,
    category: 'VALIDATION_ERROR',
    retryable: false,
    message: 'The request body is larger than {limit} bytes.',
  },
  MALFORMED_REQUEST: {
    status: 400,
    category: 'VALIDATION_ERROR',
    retryable: false,
    message: 'The request is not well-formed HTTP or its URL is not valid.',
  },
  URL_TOO_LONG: {
    status: 414,
    category: 'VALIDATION_ERROR',
    retryable: false,
    message: 'A URL parameter is longer than {limit} characters.',
  },
  HEADERS_TOO_LARGE: {
    status: 431,
    category: 'VALIDATION_ERROR',
    retryable: false,
    message: 'The request headers are too large.',
  },
  REQUEST_TIMEOUT: {
    status: 408,
    category: 'TIMEOUT',
    retryable: true,
    message: 'The request did not arrive in time.',
  },
  SCHEMA_MISMATCH: {
    status: 400,
    category: 'SCHEMA_MISMATCH',
    retryable: false,
    message: 'The data does not match the schema registered for job type {jobType}.',
  },
  CONTRACT_VERSION_UNSUPPORTED: {
    status: 400,
    category: 'SCHEMA_MISMATCH',
    retryable: false,
    message: 'Contract version {version} is not supported.',
  },

  // 401 / 403 — who you are and what you may do
  AUTHENTICATION_REQUIRED: { status: 401, category: 'AUTHENTICATION_ERROR', retryable: false, message: 'Authentication is required.' },
  AUTHENTICATION_FAILED: { status: 401, category: 'AUTHENTICATION_ERROR', retryable: false, message: 'The credentials are not valid.' },
  SIGNATURE_REQUIRED: {
    status: 401,
    category: 'AUTHENTICATION_ERROR',
    retryable: false,
    message: 'This operation requires a request signature.',
  },
  SIGNATURE_INVALID: { status: 401, category: 'AUTHENTICATION_ERROR', retryable: false, message: 'The request signature does not verify.' },
  SIGNATURE_EXPIRED: {
    status: 401,
    category: 'AUTHENTICATION_ERROR',
    retryable: false,
    message: 'The request signature is outside the allowed time window.',
  },
  SIGNATURE_REPLAYED: {
    status: 401,
    category: 'AUTHENTICATION_ERROR',
    retryable: false,
    message: 'The request nonce has been used before.',
  },
  CERTIFICATE_REQUIRED: {
    status: 401,
    category: 'AUTHENTICATION_ERROR',
    retryable: false,
    message: 'A verified client certificate is required.',
  },
  CERTIFICATE_REVOKED: {
    status: 401,
    category: 'AUTHENTICATION_ERROR',
    retryable: false,
    message: 'The client certificate has been revoked.',
  },
  JOIN_TOKEN_INVALID: {
    status: 401,
    category: 'AUTHENTICATION_ERROR',
    retryable: false,
    message: 'The join token is not valid, has expired or has been used.',
  },
  FORBIDDEN: {
    status: 403,
    category: 'AUTHORIZATION_ERROR',
    retryable: false,
    message: 'The caller is not allowed to perform this operation.',
  },
  LEASE_NOT_HELD: {
    status: 403,
    category: 'AUTHORIZATION_ERROR',
    retryable: false,
    message: 'The job is not leased to this runner with this fencing token.',
  },
  ENVELOPE_SIGNATURE_INVALID: {
    status: 403,
    category: 'AUTHORIZATION_ERROR',
    retryable: false,
    message: 'The signature over the job envelope or result does not verify.',
  },

  // 404 / 409
  ROUTE_NOT_FOUND: { status: 404, category: 'RESOURCE_NOT_FOUND', retryable: false, message: 'No such route.' },
  METHOD_NOT_ALLOWED: {
    status: 405,
    category: 'RESOURCE_NOT_FOUND',
    retryable: false,
    message: 'This method is not allowed on this route.',
  },
  RESOURCE_NOT_FOUND: { status: 404, category: 'RESOURCE_NOT_FOUND', retryable: false, message: 'The {resource} was not found.' },
  JOB_NOT_FOUND: { status: 404, category: 'RESOURCE_NOT_FOUND', retryable: false, message: 'Job {jobId} was not found.' },
  IDEMPOTENCY_CONFLICT: {
    status: 409,
    category: 'RESOURCE_CONFLICT',
    retryable: false,
    message: 'A different request with id {id} already exists.',
  },
  INVALID_STATE: {
    status: 409,
    category: 'RESOURCE_CONFLICT',
    retryable: false,
    message: 'The {resource} is {state}; this operation needs it to be {expected}.',
  },
  RESOURCE_CONFLICT: {
    status: 409,
    category: 'RESOURCE_CONFLICT',
    retryable: false,
    message: 'The {resource} conflicts with an existing one.',
  },
  QUOTA_EXCEEDED: { status: 409, category: 'RESOURCE_CONFLICT', retryable: true, message: 'The tenant quota for {quota} is exhausted.' },

  // 429 / 503 / 504 — try again later
  RATE_LIMITED: { status: 429, category: 'RATE_LIMITED', retryable: true, message: 'Too many requests; slow down.' },
  // A warning, not an error: shedding is the process protecting itself, as designed.
  OVERLOADED: {
    status: 503,
    category: 'SERVICE_UNAVAILABLE',
    retryable: true,
    message: 'The service is overloaded; try again shortly.',
    severity: 'warning',
  },
  SERVICE_UNAVAILABLE: {
    status: 503,
    category: 'SERVICE_UNAVAILABLE',
    retryable: true,
    message: 'A service this request depends on is unavailable.',
  },
  UPSTREAM_TIMEOUT: {
    status: 504,
    category: 'TIMEOUT',
    retryable: true,
    message: 'A service this request depends on did not answer in time.',
  },
  NO_RUNNER_AVAILABLE: { status: 503, category: 'RUNNER_ERROR', retryable: true, message: 'No runner serves job type {jobType}.' },
  TRUTHCORE_UNAVAILABLE: { status: 503, category: 'TRUTHCORE_ERROR', retryable: true, message: 'The result store is unavailable.' },

  // job outcomes (recorded on jobs; not usually an HTTP answer)
  JOB_TIMEOUT: { status: 504, category: 'TIMEOUT', retryable: true, message: 'The job did not finish within {timeoutMs} ms.' },
  JOB_CANCELLED: { status: 409, category: 'RUNNER_ERROR', retryable: false, message: 'The job was cancelled.' },
  JOB_EXPIRED: { status: 409, category: 'RESOURCE_CONFLICT', retryable: false, message: 'The job expired before it could run.' },
  PARENT_FAILED: {
    status: 409,
    category: 'RESOURCE_CONFLICT',
    retryable: false,
    message: 'A parent of the job failed or was cancelled, and its parent policy is fail.',
  },
  LEASE_EXPIRED: {
    status: 409,
    category: 'RUNNER_ERROR',
    retryable: true,
    message: 'The runner holding the job stopped renewing its lease.',
  },
  HANDLER_FAILED: { status: 500, category: 'RUNTIME_ERROR', retryable: true, message: 'The job handler failed.' },
  HANDLER_CRASHED: { status: 500, category: 'RUNNER_ERROR', retryable: true, message: 'The job handler process exited unexpectedly.' },
  HANDLER_OUT_OF_MEMORY: { status: 500, category: 'RUNNER_ERROR', retryable: false, message: 'The job handler exceeded its memory limit.' },

  // 500 — our fault; never carries detail to the caller
  INTERNAL: {
    status: 500,
    category: 'INTERNAL_ERROR',
    retryable: false,
    message: 'An internal error occurred. Quote the correlation id when reporting it.',
    severity: 'fatal',
  },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

export function errorCodeSpec(code: ErrorCode): ErrorCodeSpec {
  return ERROR_CODES[code];
}
