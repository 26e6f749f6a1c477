import { randomUUID } from 'node:crypto';
import { context, propagation } from '@opentelemetry/api';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { connectionError, errorFromResponse, localEnvelope, ControlPlaneError } from './errors.js';
import { SIGNATURE_HEADER, signRequest, type SigningKey } from './request-signing.js';

export interface RetryOptions {
  /** Attempts in all, the first one included. Default 4; 1 turns retries off. */
  maxAttempts?: number;
  /** First backoff when the server gave no `Retry-After`; doubles per attempt, with jitter. Default 250 ms. */
  baseDelayMs?: number;
  /**
   * Longest wait before one retry. A `Retry-After` longer than this is not waited out: the error is
   * thrown at once, so a caller never hangs for minutes inside one call. Default 30 s.
   */
  maxDelayMs?: number;
}

/** Told before each retry (for progress output and tests). */
export interface RetryNotice {
  operation: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  delayMs: number;
  error: ControlPlaneError;
}

export interface TransportOptions {
  baseUrl: URL;
  apiKey: string;
  signingKey?: SigningKey | undefined;
  agent: Agent;
  timeoutMs: number;
  retry: Required<RetryOptions>;
  onRetry?: ((notice: RetryNotice) => void) | undefined;
  userAgent: string;
}

export interface Call {
  /** Route id, e.g. `jobs.cancel` (goes into local error envelopes). */
  operation: string;
  method: 'GET' | 'POST' | 'PUT';
  /** Path and query, already encoded. */
  target: string;
  body?: unknown;
  /** Carries a CP-SIG-V1 signature (critical operations). */
  signed?: boolean;
  /**
   * Safe to send again after a failure that may have reached the server (5xx, a dropped connection).
   * Refusals that happen before any work (429, load shedding, connection refused) are retried for
   * every call.
   */
  idempotent: boolean;
  signal?: AbortSignal | undefined;
  correlationId?: string | undefined;
  /** Non-2xx statuses whose body is the answer (the health document of an unhealthy gateway). */
  okStatuses?: readonly number[];
}

const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
// Load shedding and rate limits refuse a request before any work is done, so even a call that is
// not idempotent may be sent again.
const REFUSED_BEFORE_WORK = new Set(['RATE_LIMITED', 'OVERLOADED']);

export class Transport {
  constructor(private readonly o: TransportOptions) {}

  /** Sends a call with retries and returns the parsed 2xx body. */
  async json<T>(call: Call): Promise<T> {
    const correlationId = call.correlationId ?? randomUUID();
    const payload = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body), 'utf8');
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.#once(call, payload, correlationId)) as T;
      } catch (err) {
        if (!(err instanceof ControlPlaneError)) throw err;
        const delayMs = this.#retryDelay(call, err, attempt);
        if (delayMs === undefined) throw err;
        this.o.onRetry?.({ operation: call.operation, attempt, delayMs, error: err });
        await sleep(delayMs, undefined, call.signal ? { signal: call.signal } : undefined);
      }
    }
  }

  /**
   * Opens a Server-Sent Events stream; resolves once the server answers 200. Refusals before the
   * stream starts are retried like any GET.
   */
  async stream(
    call: Omit<Call, 'method' | 'body' | 'signed' | 'idempotent'> & { lastEventId?: string | undefined },
  ): Promise<IncomingMessage> {
    const correlationId = call.correlationId ?? randomUUID();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#openStream(call, correlationId);
      } catch (err) {
        if (!(err instanceof ControlPlaneError)) throw err;
        const delayMs = this.#retryDelay({ ...call, method: 'GET', idempotent: true }, err, attempt);
        if (delayMs === undefined) throw err;
        this.o.onRetry?.({ operation: call.operation, attempt, delayMs, error: err });
        await sleep(delayMs, undefined, call.signal ? { signal: call.signal } : undefined);
      }
    }
  }

  #retryDelay(call: Call, err: ControlPlaneError, attempt: number): number | undefined {
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.o.retry;
    if (attempt >= maxAttempts || call.signal?.aborted) return undefined;
    const refusedBeforeWork =
      REFUSED_BEFORE_WORK.has(err.code) || (err.status === 0 && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED');
    const maybeTransient = err.retryable && (err.status === 0 || err.status >= 500);
    if (!refusedBeforeWork && !(maybeTransient && call.idempotent)) return undefined;
    const backoff = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    if (err.retryAfter === undefined) return Math.round(backoff);
    const askedMs = err.retryAfter * 1000;
    if (askedMs > maxDelayMs) return undefined;
    // The server's wait is a floor (earlier would only be refused again); the jitter keeps many
    // clients told the same Retry-After from coming back in the same millisecond.
    return askedMs + Math.round(Math.random() * Math.min(250, baseDelayMs));
  }

  #headers(correlationId: string): Record<string, string> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization: `Bearer ${this.o.apiKey}`,
      'user-agent': this.o.userAgent,
      'x-correlation-id': correlationId,
    };
    // The caller's active trace as a W3C traceparent, when the application runs OpenTelemetry
    // (without a registered propagator this does nothing); the gateway continues that trace.
    propagation.inject(context.active(), headers);
    return headers;
  }

  #once(call: Call, payload: Buffer | undefined, correlationId: string): Promise<unknown> {
    const headers = this.#headers(correlationId);
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (call.signed) {
      if (!this.o.signingKey) {
        return Promise.reject(
          new ControlPlaneError(
            localEnvelope({
              code: 'SIGNING_KEY_REQUIRED',
              category: 'AUTHENTICATION_ERROR',
              message: `${call.operation} is a critical operation: give the client a signingKey to sign it.`,
              retryable: false,
              operation: call.operation,
            }),
            0,
          ),
        );
      }
      // A new timestamp and nonce per attempt: the gateway refuses a nonce it has seen.
      headers[SIGNATURE_HEADER] = signRequest(this.o.signingKey, { method: call.method, target: call.target, body: payload });
    }
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const req = httpsRequest(
        new URL(call.target, this.o.baseUrl),
        { method: call.method, agent: this.o.agent, headers, timeout: this.o.timeoutMs, ...(call.signal ? { signal: call.signal } : {}) },
        (res) => {
          readBody(res).then(
            (text) => {
              const status = res.statusCode ?? 0;
              let body: unknown;
              try {
                body = text.length > 0 ? JSON.parse(text) : undefined;
              } catch {
                body = undefined;
                if (status >= 200 && status < 300) {
                  reject(errorFromResponse(502, undefined, undefined, call.operation));
                  return;
                }
              }
              if ((status >= 200 && status < 300) || (call.okStatuses?.includes(status) && body !== undefined)) resolve(body);
              else reject(errorFromResponse(status, body, headerValue(res.headers['retry-after']), call.operation));
            },
            (err: unknown) => reject(connectionError(err, call.operation, timedOut)),
          );
        },
      );
      req.on('timeout', () => {
        timedOut = true;
        req.destroy(new Error('timeout'));
      });
      req.on('error', (err) => reject(isAbort(err) ? err : connectionError(err, call.operation, timedOut)));
      req.end(payload);
    });
  }

  #openStream(
    call: { operation: string; target: string; signal?: AbortSignal | undefined; lastEventId?: string | undefined },
    correlationId: string,
  ): Promise<IncomingMessage> {
    const headers = { ...this.#headers(correlationId), accept: 'text/event-stream' } as Record<string, string>;
    if (call.lastEventId) headers['last-event-id'] = call.lastEventId;
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const req = httpsRequest(
        new URL(call.target, this.o.baseUrl),
        { method: 'GET', agent: this.o.agent, headers, ...(call.signal ? { signal: call.signal } : {}) },
        (res) => {
          clearTimeout(connectTimer);
          if (res.statusCode === 200) {
            resolve(res);
            return;
          }
          readBody(res).then(
            (text) => {
              let body: unknown;
              try {
                body = JSON.parse(text);
              } catch {
                body = undefined;
              }
              reject(errorFromResponse(res.statusCode ?? 0, body, headerValue(res.headers['retry-after']), call.operation));
            },
            (err: unknown) => reject(connectionError(err, call.operation, false)),
          );
        },
      );
      // Only the wait for the answer is bounded: the stream itself may stay quiet for long.
      const connectTimer = setTimeout(() => {
        timedOut = true;
        req.destroy(new Error('timeout'));
      }, this.o.timeoutMs);
      req.on('error', (err) => {
        clearTimeout(connectTimer);
        reject(isAbort(err) ? err : connectionError(err, call.operation, timedOut));
      });
      req.end();
    });
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function isAbort(err: unknown): boolean {
  return (err as Error | undefined)?.name === 'AbortError';
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_RESPONSE_BYTES) res.destroy(new Error(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
      else chunks.push(c);
    });
    res.on('error', reject);
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
