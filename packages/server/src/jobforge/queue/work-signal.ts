import { EventEmitter } from 'node:events';

/**
 * In-process wake-ups for long-polling claimers: when jobs become ready for a tenant/pool, the
 * claimers waiting on it retry at once instead of at their next poll.
 */
export class WorkSignal {
  readonly #emitter = new EventEmitter();

  constructor() {
    // Every waiting long-poll adds a listener; there can be many runners per pool.
    this.#emitter.setMaxListeners(0);
  }

  notify(tenantId: string, pool: string): void {
    this.#emitter.emit(`${tenantId}\u0000${pool}`);
  }

  wait(tenantId: string, pool: string, ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve();
    const key = `${tenantId}\u0000${pool}`;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#emitter.off(key, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#emitter.on(key, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
