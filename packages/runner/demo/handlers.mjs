// The demo runner's handlers. Plain objects (no imports), so this module loads fast inside every
// sandboxed job process. Each shows one feature of the platform.

/** Returns its input: the smallest round trip through the control plane. */
const echo = {
  type: 'echo',
  description: 'Returns the job input unchanged.',
  inputSchema: { type: 'object' },
  concurrency: 4,
  timeoutMs: 10_000,
  run: (input) => input,
};

/** CPU-bound work: counts primes below `limit` (bounded so a job cannot ask for hours). */
const primes = {
  type: 'primes',
  description: 'Counts the primes below `limit` (at most 5,000,000).',
  inputSchema: { type: 'object', required: ['limit'], properties: { limit: { type: 'integer', minimum: 2, maximum: 5000000 } } },
  outputSchema: { type: 'object', required: ['count'], properties: { count: { type: 'integer' } } },
  concurrency: 1,
  timeoutMs: 60_000,
  run: (input, ctx) => {
    const limit = Math.min(5_000_000, Math.max(2, Math.floor(Number(input.limit) || 2)));
    const sieve = new Uint8Array(limit);
    let count = 0;
    for (let i = 2; i < limit; i++) {
      if (sieve[i] === 0) {
        count++;
        for (let j = i * i; j < limit; j += i) sieve[j] = 1;
      }
      if (i % 500_000 === 0) ctx.progress(Math.round((i / limit) * 100));
    }
    return { limit, count };
  },
};

/** Sleeps in steps, reporting progress, and stops promptly when cancelled. */
const sleepWithProgress = {
  type: 'sleep',
  description: 'Sleeps `ms` milliseconds (default 2000) in ten steps, reporting progress.',
  concurrency: 4,
  timeoutMs: 120_000,
  run: async (input, ctx) => {
    const total = Math.min(100_000, Math.max(0, Number(input.ms ?? 2000)));
    for (let step = 1; step <= 10; step++) {
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, total / 10);
        ctx.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            reject(new Error('stopped'));
          },
          { once: true },
        );
      });
      ctx.progress(step * 10, `step ${step} of 10`);
    }
    return { sleptMs: total };
  },
};

/** Fails its first `failTimes` attempts (retryably), then succeeds: shows retries with backoff. */
const flaky = {
  type: 'flaky',
  description: 'Fails the first `failTimes` attempts (default 2), then succeeds.',
  concurrency: 2,
  timeoutMs: 10_000,
  run: (input, ctx) => {
    const failTimes = Math.max(0, Math.floor(Number(input.failTimes ?? 2)));
    if (ctx.attempt <= failTimes) throw new Error(`planned failure ${ctx.attempt} of ${failTimes}`);
    return { succeededOnAttempt: ctx.attempt };
  },
};

export default [echo, primes, sleepWithProgress, flaky];
