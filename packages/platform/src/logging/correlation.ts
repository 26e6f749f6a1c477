import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/** What every log line and every outgoing call in one unit of work is tagged with. */
export interface RequestContext {
  readonly correlationId: string;
  readonly causationId?: string | undefined;
  /** Filled in once the caller is authenticated. */
  principal?: { kind: string; id: string; tenantId?: string | undefined } | undefined;
}

const storage = new AsyncLocalStorage<RequestContext>();

export const CORRELATION_HEADER = 'x-correlation-id';
export const CAUSATION_HEADER = 'x-causation-id';

// Correlation ids end up in logs and headers: accept only a short, inert alphabet so a caller
// cannot inject log lines or header breaks through them.
const CORRELATION_ID_RE = /^[A-Za-z0-9._:-]{8,128}$/;

export function isValidCorrelationId(value: unknown): value is string {
  return typeof value === 'string' && CORRELATION_ID_RE.test(value);
}

export function newCorrelationId(): string {
  return randomUUID();
}

/** The id from a header if it is well-formed, otherwise a fresh one. */
export function correlationIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return isValidCorrelationId(value) ? value : newCorrelationId();
}

export function runWithContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}
