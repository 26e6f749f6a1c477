import { randomUUID } from 'node:crypto';
import { CONTRACT_VERSION, ErrorBody, type ErrorCategory, type ErrorEnvelope } from '@controlplane/contracts';

/**
 * Every failure of a client call: the gateway's ErrorEnvelope, the HTTP status, and the envelope's
 * stable `code` to branch on (docs/errors.md lists them). Failures that never reached an answer
 * (connection refused, TLS, timeouts) carry an envelope made by the client (`service: "client"`),
 * so callers handle one shape.
 */
export class ControlPlaneError extends Error {
  readonly envelope: ErrorEnvelope;
  /** HTTP status of the answer; 0 when there was none. */
  readonly status: number;

  constructor(envelope: ErrorEnvelope, status: number, options?: { cause?: unknown }) {
    super(envelope.message, options);
    this.name = 'ControlPlaneError';
    this.envelope = envelope;
    this.status = status;
  }

  get code(): string {
    return this.envelope.code;
  }

  get category(): ErrorCategory {
    return this.envelope.category;
  }

  get retryable(): boolean {
    return this.envelope.retryable;
  }

  /** Seconds to wait before trying again, when the server said so. */
  get retryAfter(): number | undefined {
    return this.envelope.retryAfter;
  }

  get correlationId(): string | undefined {
    return this.envelope.correlationId;
  }
}

/** 400 (413, 414, 415, 431): the request was refused as invalid; `envelope.details` name the fields (each `path` an array). */
export class InvalidRequestError extends ControlPlaneError {
  override readonly name = 'InvalidRequestError';
}
/** 401: no key, a bad key, or a missing/bad/replayed request signature. */
export class AuthenticationError extends ControlPlaneError {
  override readonly name = 'AuthenticationError';
}
/** 403: the key's role may not do this. */
export class PermissionDeniedError extends ControlPlaneError {
  override readonly name = 'PermissionDeniedError';
}
/** 404: no such resource in the key's tenant. */
export class NotFoundError extends ControlPlaneError {
  override readonly name = 'NotFoundError';
}
/** 409: a conflict or an exceeded quota. */
export class ConflictError extends ControlPlaneError {
  override readonly name = 'ConflictError';
}
/** 429: a rate limit, still refused after the client's own retries. */
export class RateLimitedError extends ControlPlaneError {
  override readonly name = 'RateLimitedError';
}
/** 408/502/503/504 or an overloaded gateway, still failing after the client's own retries. */
export class UnavailableError extends ControlPlaneError {
  override readonly name = 'UnavailableError';
}
/** No answer at all: the gateway could not be reached, TLS failed, or the call timed out. */
export class ConnectionError extends ControlPlaneError {
  override readonly name = 'ConnectionError';
}

function classFor(status: number): typeof ControlPlaneError {
  if (status === 0) return ConnectionError;
  if (status === 400 || status === 413 || status === 414 || status === 415 || status === 431) return InvalidRequestError;
  if (status === 401) return AuthenticationError;
  if (status === 403) return PermissionDeniedError;
  if (status === 404) return NotFoundError;
  if (status === 409) return ConflictError;
  if (status === 429) return RateLimitedError;
  if (status === 408 || status === 502 || status === 503 || status === 504) return UnavailableError;
  return ControlPlaneError;
}

/** An envelope for a failure the server did not describe (no answer, or an answer that is not an envelope). */
export function localEnvelope(fields: {
  code: string;
  category: ErrorCategory;
  message: string;
  retryable: boolean;
  retryAfter?: number;
  operation?: string;
}): ErrorEnvelope {
  return {
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    category: fields.category,
    severity: 'error',
    code: fields.code,
    message: fields.message,
    details: [],
    service: 'client',
    ...(fields.operation ? { operation: fields.operation } : {}),
    retryable: fields.retryable,
    ...(fields.retryAfter !== undefined ? { retryAfter: fields.retryAfter } : {}),
    contractVersion: CONTRACT_VERSION,
  };
}

/** The typed error for an answer with a non-2xx status. */
export function errorFromResponse(
  status: number,
  body: unknown,
  retryAfterHeader: string | undefined,
  operation: string,
): ControlPlaneError {
  const parsed = ErrorBody.safeParse(body);
  let envelope: ErrorEnvelope;
  if (parsed.success) {
    envelope = parsed.data.error;
  } else {
    // A proxy or load balancer in front of the gateway may answer without an envelope.
    const retryable = status === 429 || status === 502 || status === 503 || status === 504;
    envelope = localEnvelope({
      code: 'UNEXPECTED_RESPONSE',
      category: status === 429 ? 'RATE_LIMITED' : retryable ? 'SERVICE_UNAVAILABLE' : 'INTERNAL_ERROR',
      message: `The server answered ${status} without an error envelope.`,
      retryable,
      operation,
    });
  }
  const header = retryAfterHeader === undefined ? undefined : parseRetryAfter(retryAfterHeader);
  if (header !== undefined && envelope.retryAfter === undefined) envelope = { ...envelope, retryAfter: header };
  const Class = classFor(status);
  return new Class(envelope, status);
}

export function connectionError(err: unknown, operation: string, timedOut: boolean): ConnectionError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = timedOut
    ? 'The request timed out before the gateway answered.'
    : `Could not reach the gateway${code ? ` (${code})` : ''}: ${(err as Error | undefined)?.message ?? String(err)}`;
  return new ConnectionError(
    localEnvelope({
      code: timedOut ? 'CLIENT_TIMEOUT' : 'CONNECTION_FAILED',
      category: timedOut ? 'TIMEOUT' : 'NETWORK_ERROR',
      message,
      retryable: true,
      operation,
    }),
    0,
    { cause: err },
  );
}

/** `Retry-After` as seconds: delta-seconds or an HTTP date; undefined when unreadable. */
export function parseRetryAfter(value: string, now = Date.now()): number | undefined {
  const text = value.trim();
  if (/^\d{1,9}$/.test(text)) return Number(text);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}
