import type { ErrorCategory, RetryPolicy } from '@controlplane/contracts';

export interface RetryDecision {
  retry: boolean;
  /** Delay before the next attempt when retry is true. */
  delayMs: number;
  reason: 'retryable' | 'non_retryable_category' | 'not_retryable' | 'attempts_exhausted';
}

/**
 * Decides whether a failed attempt is tried again, following the request's retry policy.
 * An explicit non-retryable category always wins; otherwise the error must be retryable
 * (its own flag) and its category listed as retryable. `attempts` counts attempts already made.
 */
export function decideRetry(
  policy: RetryPolicy,
  attempts: number,
  error: { category: ErrorCategory; retryable: boolean },
  random: () => number = Math.random,
): RetryDecision {
  if (policy.nonRetryableCategories.includes(error.category)) return { retry: false, delayMs: 0, reason: 'non_retryable_category' };
  if (!error.retryable || !policy.retryableCategories.includes(error.category))
    return { retry: false, delayMs: 0, reason: 'not_retryable' };
  if (attempts > policy.maxRetries) return { retry: false, delayMs: 0, reason: 'attempts_exhausted' };
  return { retry: true, delayMs: backoffDelay(policy, attempts, random), reason: 'retryable' };
}

/**
 * Exponential backoff with "equal jitter": half the computed delay is fixed, half random, so
 * retries of jobs that failed together spread out without any retry coming back almost at once.
 */
export function backoffDelay(
  policy: Pick<RetryPolicy, 'backoffMs' | 'maxBackoffMs' | 'backoffMultiplier'>,
  attempts: number,
  random: () => number = Math.random,
): number {
  const exp = policy.backoffMs * Math.pow(policy.backoffMultiplier, Math.max(0, attempts - 1));
  const capped = Math.min(policy.maxBackoffMs, exp);
  const half = capped / 2;
  return Math.round(half + random() * half);
}
