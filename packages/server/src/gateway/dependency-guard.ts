import { AppError } from '@controlplane/contracts';
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';

/** cockatiel's circuit state as the metrics name it (an isolated breaker is held open). */
export function breakerStateOf(state: CircuitState): 'closed' | 'halfOpen' | 'open' {
  if (state === CircuitState.HalfOpen) return 'halfOpen';
  return state === CircuitState.Closed ? 'closed' : 'open';
}

export interface DependencyGuardOptions {
  /** Consecutive failures that open the breaker. */
  threshold: number;
  /** How long an open breaker refuses before letting one trial call through. */
  halfOpenAfterMs: number;
}

/**
 * A circuit breaker around the gateway's own calls to PostgreSQL or Redis on the request path.
 * While the dependency is failing, requests are refused at once with a retryable 503 instead of each
 * waiting for its own connect or command timeout. AppErrors are answers, not failures, and pass
 * through without counting.
 */
export class DependencyGuard {
  readonly #breaker: CircuitBreakerPolicy;
  readonly #retryAfterSeconds: number;

  constructor(
    readonly name: string,
    options: DependencyGuardOptions,
  ) {
    this.#breaker = circuitBreaker(
      handleWhen((err) => !(err instanceof AppError)),
      { halfOpenAfter: options.halfOpenAfterMs, breaker: new ConsecutiveBreaker(options.threshold) },
    );
    this.#retryAfterSeconds = Math.max(1, Math.ceil(options.halfOpenAfterMs / 1000));
  }

  /** The breaker's state, for metrics. */
  get state(): 'closed' | 'halfOpen' | 'open' {
    return breakerStateOf(this.#breaker.state);
  }

  get open(): boolean {
    return this.#breaker.state === CircuitState.Open || this.#breaker.state === CircuitState.Isolated;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.#breaker.execute(() => fn());
    } catch (err) {
      if (err instanceof AppError) throw err;
      // The dependency's own error (connection refused, SQL text) stays in the log via cause.
      throw new AppError('SERVICE_UNAVAILABLE', {
        retryAfter: err instanceof BrokenCircuitError ? this.#retryAfterSeconds : 1,
        cause: err,
      });
    }
  }
}
