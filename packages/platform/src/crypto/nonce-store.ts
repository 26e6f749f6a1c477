import { AppError } from '@controlplane/contracts';

/**
 * Remembers request nonces per signing key for as long as a request carrying them could still pass
 * the timestamp check. Deliberately one operation, so a Redis implementation is one
 * `SET cp:nonce:<keyId>:<nonce> 1 NX EX <ttl>` (OK → true, nil → false).
 */
export interface NonceStore {
  /** Records the nonce for `ttlSeconds`; resolves false if it was already recorded (a replay). */
  checkAndStore(keyId: string, nonce: string, ttlSeconds: number): Promise<boolean>;
}

export interface InMemoryNonceStoreOptions {
  /** Most nonces held at once. Default 100 000. */
  maxEntries?: number;
  /** Milliseconds clock, for tests. */
  clock?: () => number;
}

/** A single-process NonceStore (tests and `controlplane dev`); replicas need the shared Redis one. */
export class InMemoryNonceStore implements NonceStore {
  private readonly expiries = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly clock: () => number;
  private nextSweepAt = 0;

  constructor(options: InMemoryNonceStoreOptions = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.clock = options.clock ?? Date.now;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  }

  get size(): number {
    return this.expiries.size;
  }

  async checkAndStore(keyId: string, nonce: string, ttlSeconds: number): Promise<boolean> {
    const now = this.clock();
    // Whole-map sweeps at most once a second keep the amortised cost low without a timer to clean up.
    if (now >= this.nextSweepAt || this.expiries.size >= this.maxEntries) this.sweep(now);
    const slot = `${keyId}\n${nonce}`;
    const expiresAt = this.expiries.get(slot);
    if (expiresAt !== undefined && expiresAt > now) return false;
    if (this.expiries.size >= this.maxEntries) {
      // Evicting a live nonce would re-open it for replay, so a full store refuses instead (fail closed).
      // Only correctly signed requests reach this point, so filling it takes a key holder's own traffic.
      throw new AppError('OVERLOADED', { retryAfter: Math.max(1, Math.ceil((this.earliestExpiry() - now) / 1000)) });
    }
    this.expiries.set(slot, now + Math.max(1, Math.ceil(ttlSeconds)) * 1000);
    return true;
  }

  private sweep(now: number): void {
    for (const [slot, expiresAt] of this.expiries) {
      if (expiresAt <= now) this.expiries.delete(slot);
    }
    this.nextSweepAt = now + 1000;
  }

  private earliestExpiry(): number {
    let earliest = Infinity;
    for (const expiresAt of this.expiries.values()) earliest = Math.min(earliest, expiresAt);
    return earliest;
  }
}
