// Warm sandbox pools (SPEC §4 runner isolation), with real, confined child processes: processes are
// reused job after job, and everything a fresh process guarantees still holds in a reused one.
// Needs the built runner: npx tsc -b packages/runner.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SandboxPool, sandboxProcessOptions, type SandboxOutcome, type SandboxPoolOptions } from '@controlplane/runner';

const HANDLERS = fileURLToPath(new URL('./fixtures/pool-handlers.mjs', import.meta.url));
const BASE_ENV = { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' };

const pools: SandboxPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

async function startPool(overrides: Partial<Omit<SandboxPoolOptions, 'process'>> & { memoryLimitMb?: number } = {}): Promise<SandboxPool> {
  const { memoryLimitMb = 96, ...rest } = overrides;
  const pool = new SandboxPool({
    name: 'test',
    size: 1,
    perJob: false,
    maxJobsPerProcess: 1000,
    recycleOnError: false,
    recycleHeapMb: 1000,
    process: sandboxProcessOptions({
      handlersModule: HANDLERS,
      memoryLimitMb,
      maxOutputBytes: 1024 * 1024,
      env: BASE_ENV,
      confinement: 'strict',
      hiddenPaths: [],
      startTimeoutMs: 30_000,
    }),
    ...rest,
  });
  pools.push(pool);
  await pool.start();
  return pool;
}

let seq = 0;
function run(
  pool: SandboxPool,
  type: string,
  extra: { input?: unknown; timeoutMs?: number; signal?: AbortSignal; onProgress?: () => void } = {},
) {
  seq += 1;
  return pool.run(
    { id: `job-${seq}`, attempt: 1, type, input: extra.input ?? {} },
    {
      timeoutMs: extra.timeoutMs ?? 10_000,
      killGraceMs: 300,
      ...(extra.signal ? { signal: extra.signal } : {}),
      ...(extra.onProgress ? { onProgress: extra.onProgress } : {}),
    },
  );
}

function output(outcome: SandboxOutcome): { processId: string; jobsInThisProcess: number; env?: Record<string, string>; cwd?: string } {
  if (!outcome.ok) throw new Error(`expected success, got ${outcome.code}: ${outcome.message}`);
  return outcome.output as never;
}

describe('warm sandbox pool', () => {
  it('reuses one process job after job, and its environment is as clean as a fresh one', async () => {
    const pool = await startPool();
    const first = output(await run(pool, 'env'));
    output(await run(pool, 'dirty-env'));
    const after = output(await run(pool, 'env'));
    expect(after.processId).toBe(first.processId);
    expect(after.jobsInThisProcess).toBe(3);
    // What the dirty job changed is gone: same variables, same values, same working directory.
    expect(after.env).toEqual(first.env);
    expect(after.env).not.toHaveProperty('LEFT_BEHIND');
    expect(after.cwd).toBe(first.cwd);

    const fresh = await startPool({ perJob: true });
    expect(output(await run(fresh, 'env')).env).toEqual(first.env);
  });

  it('kills a process that hits its memory limit, replaces it, and runs the next job', async () => {
    const pool = await startPool({ memoryLimitMb: 48 });
    const before = output(await run(pool, 'whoami'));
    const oom = await run(pool, 'oom');
    expect(oom).toMatchObject({ ok: false, code: 'HANDLER_OUT_OF_MEMORY', retryable: false });
    const next = output(await run(pool, 'whoami'));
    expect(next.processId).not.toBe(before.processId);
    expect(next.jobsInThisProcess).toBe(1);
    expect(pool.stats().recycled.failure).toBe(1);
  });

  it('kills and replaces the process of a timed-out job and of a cancelled one', async () => {
    const pool = await startPool();
    const before = output(await run(pool, 'whoami'));
    expect(await run(pool, 'slow', { input: { ms: 60_000 }, timeoutMs: 300 })).toMatchObject({ ok: false, code: 'JOB_TIMEOUT' });
    const afterTimeout = output(await run(pool, 'whoami'));
    expect(afterTimeout.processId).not.toBe(before.processId);

    const controller = new AbortController();
    const pending = run(pool, 'slow', { input: { ms: 60_000 }, signal: controller.signal, onProgress: () => controller.abort() });
    expect(await pending).toMatchObject({ ok: false, code: 'JOB_CANCELLED', retryable: false });
    const afterCancel = output(await run(pool, 'whoami'));
    expect(afterCancel.processId).not.toBe(afterTimeout.processId);
    expect(pool.stats().recycled.failure).toBe(2);
  });

  it('fails only the job whose process crashed; the next job runs on a fresh process', async () => {
    const pool = await startPool({ size: 2 });
    const [crashed, fine] = await Promise.all([run(pool, 'crash'), run(pool, 'slow', { input: { ms: 200 } })]);
    expect(crashed).toMatchObject({ ok: false, code: 'HANDLER_CRASHED', retryable: true });
    expect(fine.ok).toBe(true);
    expect(output(await run(pool, 'whoami')).processId).toBeDefined();
  });

  it('recycles a process after maxJobsPerProcess jobs', async () => {
    const pool = await startPool({ maxJobsPerProcess: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(output(await run(pool, 'whoami')).processId);
    expect(new Set(ids.slice(0, 3)).size).toBe(1);
    expect(new Set(ids.slice(3, 6)).size).toBe(1);
    expect(ids[3]).not.toBe(ids[0]);
    expect(ids[6]).not.toBe(ids[3]);
    expect(pool.stats().recycled['max-jobs']).toBe(2);
  });

  it('recycles a process whose heap grew past its bound, and after a thrown error when the handler asks', async () => {
    const grown = await startPool({ recycleHeapMb: 40, memoryLimitMb: 256 });
    const first = output(await run(grown, 'grow', { input: { mb: 64 } }));
    const second = output(await run(grown, 'whoami'));
    expect(second.processId).not.toBe(first.processId);
    expect(grown.stats().recycled.heap).toBe(1);

    const strict = await startPool({ recycleOnError: true });
    const a = output(await run(strict, 'whoami'));
    expect(await run(strict, 'throw')).toMatchObject({ ok: false, code: 'HANDLER_FAILED' });
    expect(output(await run(strict, 'whoami')).processId).not.toBe(a.processId);

    const lenient = await startPool();
    const b = output(await run(lenient, 'whoami'));
    await run(lenient, 'throw');
    expect(output(await run(lenient, 'whoami')).processId).toBe(b.processId);
  });

  it('never runs more jobs at once than the pool has processes', async () => {
    const pool = await startPool({ size: 2 });
    let running = 0;
    let most = 0;
    const jobs = Array.from({ length: 8 }, () => {
      let started = false;
      return run(pool, 'slow', {
        input: { ms: 100 },
        onProgress: () => {
          started = true;
          running += 1;
          most = Math.max(most, running);
        },
      }).then((o) => {
        if (started) running -= 1;
        return o;
      });
    });
    const outcomes = await Promise.all(jobs);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(most).toBe(2);
    expect(new Set(outcomes.map((o) => output(o).processId)).size).toBe(2);
  });

  it('process-per-job: every job gets a process of its own, whatever the job before it did', async () => {
    const pool = await startPool({ perJob: true, size: 1 });
    const runs = [];
    for (let i = 0; i < 4; i++) runs.push(output(await run(pool, i === 1 ? 'dirty-env' : 'whoami')));
    expect(new Set(runs.map((r) => r.processId)).size).toBe(4);
    expect(runs.every((r) => r.jobsInThisProcess === 1)).toBe(true);
    expect(pool.stats().recycled['per-job']).toBe(4);
  });
});
