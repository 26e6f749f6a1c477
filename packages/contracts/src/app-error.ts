import { randomUUID } from 'node:crypto';
import { ERROR_CODES, type ErrorCode, isErrorCode } from './error-codes.js';
import type { ErrorBody, ErrorDetail, ErrorEnvelope } from './error-envelope.js';
import { fillTemplate, type ErrorParams } from './message-template.js';
import { CONTRACT_VERSION } from './version.js';

export type { ErrorParams };

export interface AppErrorOptions {
  /** Values for the message template. They are public: never put internals here. */
  params?: ErrorParams;
  /** Field-level detail (paths into the request). Public. */
  details?: ErrorDetail[];
  /** Seconds until a retry may succeed. */
  retryAfter?: number;
  /** The underlying error, kept for logs only. */
  cause?: unknown;
  /** Overrides the registry's retryable flag (e.g. a handler marking its failure permanent). */
  retryable?: boolean;
  /** Replaces the templated message; public. */
  message?: string;
}

/**
 * An error with a registered code. Its public face (message, details) is safe to send to a
 * client; `cause` is for the log only.
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetail[];
  readonly retryAfter: number | undefined;
  readonly retryable: boolean;
  readonly params: ErrorParams;

  constructor(code: ErrorCode, options: AppErrorOptions = {}) {
    const spec = ERROR_CODES[code];
    super(options.message ?? fillTemplate(spec.message, options.params ?? {}), { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = spec.status;
    this.details = options.details ?? [];
    this.retryAfter = options.retryAfter;
    this.retryable = options.retryable ?? spec.retryable;
    this.params = options.params ?? {};
  }

  get category() {
    return ERROR_CODES[this.code].category;
  }
}

export class ValidationError extends AppError {
  constructor(details: ErrorDetail[], message?: string) {
    super('VALIDATION_FAILED', { details, ...(message ? { message } : {}) });
    this.name = 'ValidationError';
  }
}

export class JobNotFoundError extends AppError {
  constructor(readonly jobId: string) {
    super('JOB_NOT_FOUND', { params: { jobId } });
    this.name = 'JobNotFoundError';
  }
}

export class ForbiddenError extends AppError {
  constructor(options: AppErrorOptions = {}) {
    super('FORBIDDEN', options);
    this.name = 'ForbiddenError';
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(retryAfter: number, cause?: unknown) {
    super('SERVICE_UNAVAILABLE', { retryAfter, cause });
    this.name = 'ServiceUnavailableError';
  }
}

/**
 * The one place an `unknown` from a `catch` becomes a known error. Anything that is not an
 * AppError (an InternalError with its CP_* code included) is an internal error: its text is kept
 * as `cause` for the log and never shown.
 */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return new AppError('INTERNAL', { cause: err });
}

export interface EnvelopeContext {
  service: string;
  operation?: string | undefined;
  correlationId?: string | undefined;
  causationId?: string | undefined;
}

export function buildErrorEnvelope(err: AppError, ctx: EnvelopeContext): ErrorEnvelope {
  const spec = ERROR_CODES[err.code];
  const envelope: ErrorEnvelope = {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    category: spec.category,
    severity: 'severity' in spec ? spec.severity : err.status >= 500 ? 'error' : 'warning',
    code: err.code,
    message: err.message,
    details: err.details,
    service: ctx.service,
    retryable: err.retryable,
    contractVersion: { ...CONTRACT_VERSION },
  };
  if (ctx.operation) envelope.operation = ctx.operation;
  if (ctx.correlationId) envelope.correlationId = ctx.correlationId;
  if (ctx.causationId) envelope.causationId = ctx.causationId;
  if (err.retryAfter !== undefined) envelope.retryAfter = err.retryAfter;
  return envelope;
}

export function errorBody(err: unknown, ctx: EnvelopeContext): ErrorBody {
  return { error: buildErrorEnvelope(toAppError(err), ctx) };
}

/** Rebuilds an AppError from an envelope received from another service (keeps code and details). */
export function appErrorFromEnvelope(envelope: ErrorEnvelope): AppError {
  const code: ErrorCode = isErrorCode(envelope.code) ? envelope.code : 'INTERNAL';
  return new AppError(code, {
    message: envelope.message,
    details: envelope.details,
    retryable: envelope.retryable,
    ...(envelope.retryAfter !== undefined ? { retryAfter: envelope.retryAfter } : {}),
  });
}
