import { request as httpsRequest, type Agent } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { AppError, ErrorBody, appErrorFromEnvelope } from '@controlplane/contracts';
import { requestJson, type Logger } from '@controlplane/platform';
import { breakerStateOf } from './dependency-guard.js';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  IsolatedCircuitError,
  TaskCancelledError,
  TimeoutStrategy,
  bulkhead,
  circuitBreaker,
  handleWhen,
  retry,
  timeout,
  wrap,
  type BulkheadPolicy,
  type CircuitBreakerPolicy,
  type IPolicy,
} from 'cockatiel';

/** An internal service the gateway forwards to, reached over mTLS with an agent pinned to its identity. */
export interface UpstreamTarget {
  /** `https://host:port` of the service API. */
  url: string;
  /** createMtlsAgent(gatewayMaterial, { expectedServerId: spiffe://…/service/<name> }). */
  agent: Agent;
}

export interface UpstreamPolicyOptions {
  /** Bound on one attempt, from sending to the whole answer (to the headers for streams). */
  timeoutMs: number;
  /** Extra attempts for idempotent (GET) calls after a transport failure or 502/503/504. */
  retries: number;
  /** Consecutive failed attempts that open the breaker. */
  breakerThreshold: number;
  breakerHalfOpenAfterMs: number;
  /** Calls in progress at once (bulkhead); more wait in a queue of `maxQueued`, then are refused. */
  maxConcurrent: number;
  maxQueued: number;
}

export interface UpstreamCall {
  method: 'GET' | 'POST' | 'PUT';
  /** Path and query on the upstream (already built from trusted parts). */
  path: string;
  body?: unknown;
  headers: Record<string, string>;
}

export interface UpstreamAnswer {
  status: number;
  body: unknown;
}

/** A 5xx answer from the upstream: counts against the breaker and, for 502-504, may be retried. */
class UpstreamStatusError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`upstream answered ${status}`);
    this.name = 'UpstreamStatusError';
  }
}

const isTransportFailure = (err: Error) =>
  (err instanceof AppError && (err.code === 'SERVICE_UNAVAILABLE' || err.code === 'UPSTREAM_TIMEOUT')) || err instanceof TaskCancelledError;
const isRetryable = (err: Error) => isTransportFailure(err) || (err instanceof UpstreamStatusError && [502, 503, 504].includes(err.status));
const isFailure = (err: Error) => isTransportFailure(err) || err instanceof UpstreamStatusError;

const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * One upstream service with its resilience policies: bulkhead → retry (GET only) → circuit breaker →
 * per-attempt timeout. Whatever goes wrong, the caller gets an AppError whose public face names no
 * host, port, path or library: SERVICE_UNAVAILABLE (unreachable, 5xx, breaker open), UPSTREAM_TIMEOUT,
 * or OVERLOADED (bulkhead full), each retryable with a retryAfter.
 */
export class Upstream {
  readonly #breaker: CircuitBreakerPolicy;
  readonly #bulkhead: BulkheadPolicy;
  readonly #idempotent: IPolicy;
  readonly #once: IPolicy;
  readonly #streamConnect: IPolicy;
  readonly #halfOpenSeconds: number;

  constructor(
    readonly name: string,
    private readonly target: UpstreamTarget,
    private readonly options: UpstreamPolicyOptions,
    private readonly logger: Logger,
  ) {
    if (!target.url.startsWith('https://')) throw new Error(`upstream ${name}: the URL must be https:// (mTLS); plaintext is refused`);
    this.#breaker = circuitBreaker(handleWhen(isFailure), {
      halfOpenAfter: options.breakerHalfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.breakerThreshold),
    });
    this.#breaker.onBreak(() => logger.warn({ upstream: name }, 'upstream circuit opened'));
    this.#breaker.onReset(() => logger.info({ upstream: name }, 'upstream circuit closed'));
    this.#bulkhead = bulkhead(options.maxConcurrent, options.maxQueued);
    const attemptTimeout = timeout(options.timeoutMs, TimeoutStrategy.Aggressive);
    const retries = retry(handleWhen(isRetryable), {
      maxAttempts: options.retries,
      backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 500 }),
    });
    this.#idempotent = wrap(this.#bulkhead, retries, this.#breaker, attemptTimeout);
    this.#once = wrap(this.#bulkhead, this.#breaker, attemptTimeout);
    // The stream outlives the call that opened it: the timeout bounds only the wait for headers.
    this.#streamConnect = wrap(
      this.#bulkhead,
      this.#breaker,
      timeout(options.timeoutMs, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false }),
    );
    this.#halfOpenSeconds = Math.max(1, Math.ceil(options.breakerHalfOpenAfterMs / 1000));
  }

  /** The breaker's state, for metrics. */
  get breakerState(): 'closed' | 'halfOpen' | 'open' {
    return breakerStateOf(this.#breaker.state);
  }

  get breakerOpen(): boolean {
    return this.#breaker.state === CircuitState.Open || this.#breaker.state === CircuitState.Isolated;
  }

  /** A JSON call. 2xx answers are returned; 4xx become the upstream's error as an AppError. */
  async call(req: UpstreamCall): Promise<UpstreamAnswer> {
    const policy = req.method === 'GET' ? this.#idempotent : this.#once;
    let res: UpstreamAnswer;
    try {
      res = await policy.execute(async ({ signal }) => {
        const r = await requestJson({
          url: `${this.target.url}${req.path}`,
          method: req.method,
          body: req.body,
          agent: this.target.agent,
          headers: req.headers,
          timeoutMs: this.options.timeoutMs,
          signal,
        });
        if (r.status >= 500) throw new UpstreamStatusError(r.status, r.body);
        return { status: r.status, body: r.body };
      });
    } catch (err) {
      throw this.#publicError(err);
    }
    return this.settle(res);
  }

  /**
   * An answer as the caller should see it: a 2xx is returned; anything else is thrown as the
   * public error a call answered that way throws (also for answers carried inside a message,
   * such as one item of a coalesced submission).
   */
  settle(res: UpstreamAnswer): UpstreamAnswer {
    if (res.status >= 200 && res.status < 300) return res;
    if (res.status >= 500) throw this.#publicError(new UpstreamStatusError(res.status, res.body));
    throw this.#clientError(res.status, res.body);
  }

  /** Opens a Server-Sent Events stream; resolves with the upstream response once it answers 200. */
  async openStream(req: { path: string; headers: Record<string, string> }): Promise<{ response: IncomingMessage; abort(): void }> {
    const controller = new AbortController();
    try {
      const response = await this.#streamConnect.execute(({ signal }) => {
        signal.addEventListener('abort', () => controller.abort(), { once: true });
        return new Promise<IncomingMessage>((resolve, reject) => {
          const r = httpsRequest(
            `${this.target.url}${req.path}`,
            {
              method: 'GET',
              agent: this.target.agent,
              headers: { accept: 'text/event-stream', ...req.headers },
              signal: controller.signal,
            },
            (res) => {
              if (res.statusCode === 200) {
                resolve(res);
                return;
              }
              readBounded(res).then(
                (body) =>
                  reject(
                    res.statusCode !== undefined && res.statusCode >= 500
                      ? new UpstreamStatusError(res.statusCode, body)
                      : new StreamRefused(res.statusCode ?? 0, body),
                  ),
                () => reject(new AppError('SERVICE_UNAVAILABLE', { retryAfter: 1 })),
              );
            },
          );
          r.on('error', (err) =>
            reject(err instanceof AppError ? err : new AppError('SERVICE_UNAVAILABLE', { retryAfter: 1, cause: err })),
          );
          r.end();
        });
      });
      return { response, abort: () => controller.abort() };
    } catch (err) {
      controller.abort();
      if (err instanceof StreamRefused) throw this.#clientError(err.status, err.body);
      throw this.#publicError(err);
    }
  }

  #publicError(err: unknown): AppError {
    if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError) {
      return new AppError('SERVICE_UNAVAILABLE', { retryAfter: this.#halfOpenSeconds, cause: err });
    }
    if (err instanceof BulkheadRejectedError) return new AppError('OVERLOADED', { retryAfter: 1, cause: err });
    if (err instanceof TaskCancelledError) return new AppError('UPSTREAM_TIMEOUT', { retryAfter: 1, cause: err });
    if (err instanceof UpstreamStatusError) {
      const parsed = ErrorBody.safeParse(err.body);
      // A 503 from the service (its own dependency down, overloaded) is passed on as retryable;
      // any other 5xx is the service's bug and becomes our INTERNAL, with detail only in the log.
      if (err.status === 503 || err.status === 502 || err.status === 504) {
        const retryAfter = parsed.success ? (parsed.data.error.retryAfter ?? 1) : 1;
        return new AppError('SERVICE_UNAVAILABLE', { retryAfter, cause: err });
      }
      this.logger.error(
        { upstream: this.name, status: err.status, code: parsed.success ? parsed.data.error.code : undefined },
        'upstream failed',
      );
      return new AppError('INTERNAL', { cause: err });
    }
    if (err instanceof AppError) {
      if (err.code === 'SERVICE_UNAVAILABLE' || err.code === 'UPSTREAM_TIMEOUT') {
        // Rebuilt so a transport message from the platform client never reaches the client.
        return new AppError(err.code, { retryAfter: err.retryAfter ?? 1, cause: err });
      }
      return err;
    }
    return new AppError('SERVICE_UNAVAILABLE', { retryAfter: 1, cause: err });
  }

  #clientError(status: number, body: unknown): AppError {
    const parsed = ErrorBody.safeParse(body);
    // The services refuse the gateway itself only when it is misconfigured (wrong certificate
    // identity, malformed forwarded headers): that is our fault, not the client's.
    if (status === 401 || status === 403 || !parsed.success) {
      this.logger.error(
        { upstream: this.name, status, code: parsed.success ? parsed.data.error.code : undefined },
        'upstream refused the gateway',
      );
      return new AppError('INTERNAL');
    }
    return appErrorFromEnvelope(parsed.data.error);
  }
}

class StreamRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`stream refused with ${status}`);
  }
}

function readBounded(res: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_ERROR_BODY_BYTES) res.destroy(new Error('error body too large'));
      else chunks.push(c);
    });
    res.on('error', reject);
    res.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        resolve(undefined);
      }
    });
  });
}
