import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { AppError } from '@controlplane/contracts';

export interface LoadSheddingOptions {
  /** Requests being served at once above which new ones are refused. */
  maxInFlight: number;
  /** p99 event-loop delay (ms) over the last sample above which new requests are refused. */
  maxEventLoopDelayMs: number;
  sampleIntervalMs?: number;
}

/**
 * Refuses new work with 503 OVERLOADED + Retry-After while the process is saturated, before any
 * authentication or parsing is spent on it: answering a few requests quickly beats answering all of
 * them too late (and falling over).
 */
export class LoadShedder {
  readonly #histogram: IntervalHistogram;
  readonly #timer: NodeJS.Timeout;
  #inFlight = 0;
  #delayMs = 0;

  constructor(private readonly options: LoadSheddingOptions) {
    this.#histogram = monitorEventLoopDelay({ resolution: 10 });
    this.#histogram.enable();
    this.#timer = setInterval(() => {
      this.#delayMs = this.#histogram.count > 0 ? this.#histogram.percentile(99) / 1e6 : 0;
      this.#histogram.reset();
    }, options.sampleIntervalMs ?? 500);
    this.#timer.unref();
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get eventLoopDelayMs(): number {
    return this.#delayMs;
  }

  /** Admits one request or throws OVERLOADED; call the returned function exactly once when it ends. */
  admit(): () => void {
    if (this.#inFlight >= this.options.maxInFlight || this.#delayMs > this.options.maxEventLoopDelayMs) {
      throw new AppError('OVERLOADED', { retryAfter: 1 });
    }
    this.#inFlight += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight -= 1;
    };
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#histogram.disable();
  }
}
