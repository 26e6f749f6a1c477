import type { Redis } from 'ioredis';
import { packagedLuaScript } from './lua-scripts.js';

export interface TakeTokensOptions {
  /** Tokens a full bucket holds: the largest burst allowed. */
  capacity: number;
  /** Tokens added back per second: the sustained rate. */
  refillPerSecond: number;
  /** Tokens this call takes (default 1). */
  cost?: number;
  /**
   * The clock in ms since the epoch. Leave it out in production: the Redis server's clock is then
   * the one clock all replicas share. Tests pass it to drive refills without sleeping.
   */
  nowMs?: number;
}

export interface TakeTokensResult {
  allowed: boolean;
  /** Whole tokens left after this call. */
  remaining: number;
  /** When refused, ms until `cost` tokens will be there (for `Retry-After`); 0 when allowed. */
  retryAfterMs: number;
}

function positive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`takeTokens: ${name} must be a positive finite number, got ${value}`);
}

/**
 * Takes tokens from the bucket at `key` (build it with RedisKeys) in one atomic script, so any
 * number of clients and processes sharing the key share one limit.
 */
export async function takeTokens(client: Redis, key: string, options: TakeTokensOptions): Promise<TakeTokensResult> {
  const cost = options.cost ?? 1;
  positive('capacity', options.capacity);
  positive('refillPerSecond', options.refillPerSecond);
  positive('cost', cost);
  if (options.nowMs !== undefined && (!Number.isSafeInteger(options.nowMs) || options.nowMs < 0)) {
    throw new RangeError(`takeTokens: nowMs must be a non-negative integer, got ${options.nowMs}`);
  }
  const reply = await packagedLuaScript('token_bucket').run(
    client,
    [key],
    [options.capacity, options.refillPerSecond, options.nowMs ?? '', cost],
  );
  const [allowed, remaining, retryAfterMs] = reply as [number, number, number];
  return { allowed: allowed === 1, remaining, retryAfterMs };
}
