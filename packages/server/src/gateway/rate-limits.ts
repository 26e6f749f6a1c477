import type { Redis } from 'ioredis';
import type { NonceStore } from '@controlplane/platform';
import { takeTokens } from '../redis/index.js';
import type { KeyPart, RedisKeys } from '../redis/index.js';
import type { DependencyGuard } from './dependency-guard.js';

/** A token bucket: `capacity` is the largest burst, `refillPerSecond` the sustained rate. */
export interface RateRule {
  capacity: number;
  refillPerSecond: number;
}

export interface RateDecision {
  allowed: boolean;
  /** When refused: ms until the request would be allowed. */
  retryAfterMs: number;
}

/**
 * The gateway's rate limiter. The Redis implementation shares each bucket between all gateway
 * replicas; the in-memory one is for the embedded (single-process) mode.
 */
export interface RateLimiter {
  take(bucket: readonly KeyPart[], rule: RateRule): Promise<RateDecision>;
}

/**
 * Counts authentication failures per source address in a fixed window. Unlike a token bucket it can
 * be *read* without being charged, so a blocked address is refused before its key is even looked at:
 * a correct guess made while blocked must not be told apart from a wrong one.
 */
export interface FailureCounter {
  /** ms until `subject` may try again (0: it may). */
  blockedForMs(subject: string): Promise<number>;
  /** Counts one failure; resolves to the ms `subject` is now blocked for (0 while under the limit). */
  recordFailure(subject: string): Promise<number>;
}

export interface FailureRule {
  max: number;
  windowSeconds: number;
}

export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
    private readonly guard: DependencyGuard,
  ) {}

  async take(bucket: readonly KeyPart[], rule: RateRule): Promise<RateDecision> {
    // Redis's clock (no nowMs) so replicas with skewed clocks still share one bucket correctly.
    const res = await this.guard.run(() =>
      takeTokens(this.client, this.keys.key('gateway', 'rate', ...bucket), {
        capacity: rule.capacity,
        refillPerSecond: rule.refillPerSecond,
      }),
    );
    return { allowed: res.allowed, retryAfterMs: res.retryAfterMs };
  }
}

export class RedisFailureCounter implements FailureCounter {
  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
    private readonly rule: FailureRule,
    private readonly guard: DependencyGuard,
  ) {}

  #key(subject: string): string {
    return this.keys.key('gateway', 'authfail', subject);
  }

  async blockedForMs(subject: string): Promise<number> {
    const key = this.#key(subject);
    const replies = await this.guard.run(() => this.client.multi().get(key).pttl(key).exec());
    const count = Number(replies?.[0]?.[1] ?? 0);
    const ttl = Number(replies?.[1]?.[1] ?? -2);
    return count >= this.rule.max ? Math.max(1, ttl) : 0;
  }

  async recordFailure(subject: string): Promise<number> {
    const key = this.#key(subject);
    // MULTI makes the three one step: the window starts with the first failure and is not extended.
    const replies = await this.guard.run(() =>
      this.client
        .multi()
        .set(key, '0', 'PX', this.rule.windowSeconds * 1000, 'NX')
        .incr(key)
        .pttl(key)
        .exec(),
    );
    const count = Number(replies?.[1]?.[1] ?? 0);
    const ttl = Number(replies?.[2]?.[1] ?? -2);
    return count >= this.rule.max ? Math.max(1, ttl) : 0;
  }
}

/** `SET <prefix>:gateway:nonce:<keyId>:<nonce> 1 NX EX <ttl>`: the nonce cache every replica shares. */
export class RedisNonceStore implements NonceStore {
  constructor(
    private readonly client: Redis,
    private readonly keys: RedisKeys,
    private readonly guard: DependencyGuard,
  ) {}

  async checkAndStore(keyId: string, nonce: string, ttlSeconds: number): Promise<boolean> {
    const reply = await this.guard.run(() =>
      this.client.set(this.keys.key('gateway', 'nonce', keyId, nonce), '1', 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX'),
    );
    return reply === 'OK';
  }
}

/** Bounded so a flood of distinct addresses cannot grow the map without limit. */
const MAX_BUCKETS = 100_000;

export class InMemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; ts: number }>();

  constructor(private readonly clock: () => number = Date.now) {}

  async take(bucket: readonly KeyPart[], rule: RateRule): Promise<RateDecision> {
    const now = this.clock();
    const key = bucket.join('\u0000');
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size >= MAX_BUCKETS) this.#sweep(now, rule);
      b = { tokens: rule.capacity, ts: now };
      this.#buckets.set(key, b);
    }
    if (now > b.ts) {
      b.tokens = Math.min(rule.capacity, b.tokens + ((now - b.ts) * rule.refillPerSecond) / 1000);
      b.ts = now;
    }
    b.tokens = Math.min(b.tokens, rule.capacity);
    if (b.tokens + 1e-9 >= 1) {
      b.tokens = Math.max(0, b.tokens - 1);
      return { allowed: true, retryAfterMs: 0 };
    }
    return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(((1 - b.tokens) * 1000) / rule.refillPerSecond)) };
  }

  // Buckets idle long enough to be full again are the same as no bucket.
  #sweep(now: number, rule: RateRule): void {
    const fullAfterMs = (rule.capacity * 1000) / rule.refillPerSecond;
    for (const [k, b] of this.#buckets) if (now - b.ts >= fullAfterMs) this.#buckets.delete(k);
    if (this.#buckets.size >= MAX_BUCKETS) this.#buckets.clear();
  }
}

export class InMemoryFailureCounter implements FailureCounter {
  readonly #windows = new Map<string, { count: number; endsAt: number }>();

  constructor(
    private readonly rule: FailureRule,
    private readonly clock: () => number = Date.now,
  ) {}

  async blockedForMs(subject: string): Promise<number> {
    const now = this.clock();
    const w = this.#windows.get(subject);
    if (!w || w.endsAt <= now) return 0;
    return w.count >= this.rule.max ? w.endsAt - now : 0;
  }

  async recordFailure(subject: string): Promise<number> {
    const now = this.clock();
    let w = this.#windows.get(subject);
    if (!w || w.endsAt <= now) {
      if (this.#windows.size >= MAX_BUCKETS) for (const [k, v] of this.#windows) if (v.endsAt <= now) this.#windows.delete(k);
      w = { count: 0, endsAt: now + this.rule.windowSeconds * 1000 };
      this.#windows.set(subject, w);
    }
    w.count += 1;
    return w.count >= this.rule.max ? w.endsAt - now : 0;
  }
}
