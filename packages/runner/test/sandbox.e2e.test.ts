// Runner isolation (SPEC §4), attacked with real child processes and worker threads.
// Needs the built runner: npx tsc -b packages/runner (the sandbox starts dist/sandbox/child.js).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runJobInSandbox, type RunJobInSandboxOptions, type SandboxOutcome } from '@controlplane/runner';

const HANDLERS = fileURLToPath(new URL('./fixtures/handlers.mjs', import.meta.url));
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

type Overrides = Partial<Omit<RunJobInSandboxOptions, 'job'>> & { input?: unknown };

function run(type: string, overrides: Overrides = {}): Promise<SandboxOutcome> {
  const { input = {}, ...rest } = overrides;
  return runJobInSandbox({
    handlersModule: HANDLERS,
    job: { id: `job-${type}`, attempt: 1, type, input, correlationId: 'corr-1' },
    timeoutMs: 10_000,
    memoryLimitMb: 64,
    killGraceMs: 300,
    ...rest,
  });
}

function failed(outcome: SandboxOutcome): Extract<SandboxOutcome, { ok: false }> {
  if (outcome.ok) throw new Error(`expected a failure, got output ${JSON.stringify(outcome.output)}`);
  return outcome;
}

/** Resolves with the pid a fixture reports as its first progress message. */
function pidReporter(): { onProgress: (pct: number, message?: string) => void; pid: Promise<number> } {
  let resolve!: (pid: number) => void;
  const pid = new Promise<number>((r) => (resolve = r));
  return { onProgress: (_pct, message) => resolve(Number(message)), pid };
}

function processState(pid: number): 'gone' | 'zombie' | 'alive' {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'gone';
    throw err;
  }
  try {
    // Field 3 of /proc/<pid>/stat, after the parenthesised command name.
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ? 'zombie' : 'alive';
  } catch {
    return 'gone';
  }
}

/**
 * A grandchild is reparented to init when its parent dies, and reaping it is init's job, not the
 * runner's: a zombie has no code running and holds nothing, so it counts as dead here.
 */
async function expectDead(pid: number): Promise<void> {
  const deadline = Date.now() + 2000;
  while (processState(pid) === 'alive' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(processState(pid)).not.toBe('alive');
}

// Every child process a test starts must have been reaped by the time its job's promise settles;
// the handle itself closes a moment later. (Timers and pipes are checked by the leak-check script
// below, in a process of its own, because vitest's own handles would blur them here.)
function childProcessHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'ProcessWrap').length;
}
let childHandlesBefore = 0;
beforeEach(() => {
  childHandlesBefore = childProcessHandles();
});
afterEach(async () => {
  for (let i = 0; i < 20 && childProcessHandles() > childHandlesBefore; i++) await new Promise((r) => setTimeout(r, 10));
  expect(childProcessHandles()).toBe(childHandlesBefore);
});

describe('runJobInSandbox with process isolation', () => {
  it('returns the output, reports progress and logs, and gives the handler its context', async () => {
    const progress: Array<[number, string | undefined]> = [];
    const logs: Array<[string, string]> = [];
    const outcome = await run('echo-alias', {
      input: { n: 42, text: 'hé\nllo' },
      onProgress: (pct, message) => progress.push([pct, message]),
      onLog: (level, message) => logs.push([level, message]),
    });
    expect(outcome).toMatchObject({
      ok: true,
      output: {
        input: { n: 42, text: 'hé\nllo' },
        jobId: 'job-echo-alias',
        attempt: 1,
        type: 'echo-alias',
        correlationId: 'corr-1',
        aborted: false,
      },
    });
    expect(progress).toEqual([
      [50, 'half way'],
      [100, undefined],
    ]);
    expect(logs).toEqual([['info', 'echoing']]);
    expect(outcome.durationMs).toBeGreaterThan(0);
  });

  it('loads a module through its named `handlers` export and accepts a file URL', async () => {
    const outcome = await runJobInSandbox({
      handlersModule: pathToFileURL(fixture('named-handlers.mjs')).href,
      job: { id: 'j', attempt: 2, type: 'named', input: { n: 21 } },
      timeoutMs: 10_000,
      memoryLimitMb: 64,
    });
    expect(outcome).toMatchObject({ ok: true, output: { doubled: 42 } });
  });

  it('reports a thrown error as a retryable HANDLER_FAILED with its message and no stack', async () => {
    const outcome = failed(await run('fail', { input: { reason: 'disk full' } }));
    expect(outcome).toMatchObject({ code: 'HANDLER_FAILED', message: 'boom: disk full', retryable: true });
    expect(outcome.message).not.toMatch(/handlers\.mjs|\n\s+at /);
  });

  it('makes a failure permanent when the handler throws a NonRetryableError', async () => {
    const branded = failed(await run('fail-permanent'));
    expect(branded).toMatchObject({ code: 'HANDLER_FAILED', message: 'the input can never work', retryable: false });

    // The SDK class itself, imported by the handler from the built @controlplane/runner.
    const sdk = failed(
      await runJobInSandbox({
        handlersModule: fixture('sdk-handlers.mjs'),
        job: { id: 'j', attempt: 1, type: 'sdk-permanent', input: null },
        timeoutMs: 10_000,
        memoryLimitMb: 64,
      }),
    );
    expect(sdk).toMatchObject({ code: 'HANDLER_FAILED', message: 'rejected by the handler', retryable: false });
  });

  it('truncates a huge error message and describes a thrown non-Error', async () => {
    const long = failed(await run('fail-long'));
    expect(long.message.length).toBeLessThanOrEqual(1024);
    expect(long.message.startsWith('xxxx')).toBe(true);
    expect(failed(await run('fail-string')).message).toBe('plain string');
  });

  it('fails an unknown job type permanently', async () => {
    expect(failed(await run('no-such-type'))).toMatchObject({
      code: 'HANDLER_FAILED',
      retryable: false,
      message: 'No handler is registered for job type "no-such-type".',
    });
  });

  it('fails a module that exports no handler array permanently, and a missing module retryably', async () => {
    const invalid = failed(await run('lonely', { handlersModule: fixture('invalid-handlers.mjs') }));
    expect(invalid).toMatchObject({ code: 'HANDLER_FAILED', retryable: false });
    expect(invalid.message).toMatch(/must export an array of handlers/);
    const missing = failed(await run('echo', { handlersModule: fixture('does-not-exist.mjs') }));
    expect(missing).toMatchObject({ code: 'HANDLER_FAILED', retryable: true, message: 'The handlers module could not be loaded.' });
  });

  it('refuses output over the limit and output that is not JSON', async () => {
    expect(failed(await run('big-output'))).toMatchObject({
      code: 'HANDLER_FAILED',
      retryable: false,
      message: 'The handler output is larger than 8388608 bytes.',
    });
    expect(failed(await run('bigint-output'))).toMatchObject({
      code: 'HANDLER_FAILED',
      retryable: false,
      message: 'The handler output is not JSON-serialisable.',
    });
  });

  it('times out a hanging handler with SIGTERM and leaves no process behind', async () => {
    const reporter = pidReporter();
    const outcome = failed(await run('hang', { timeoutMs: 500, killGraceMs: 5000, onProgress: reporter.onProgress, confinement: 'none' }));
    const pid = await reporter.pid;
    expect(outcome).toMatchObject({ code: 'JOB_TIMEOUT', retryable: true, message: 'The job did not finish within 500 ms.' });
    // The handler honoured the abort signal, so the polite stop was enough: no wait for the grace period.
    expect(outcome.durationMs).toBeGreaterThanOrEqual(500);
    expect(outcome.durationMs).toBeLessThan(4000);
    expect(outcome.diagnostics?.signal).toBeNull();
    expect(processState(pid)).toBe('gone'); // reaped by the runner: not even a zombie
  });

  it('SIGKILLs a handler that ignores SIGTERM once the grace period is over', async () => {
    const reporter = pidReporter();
    const outcome = failed(
      await run('stubborn', { timeoutMs: 400, killGraceMs: 300, onProgress: reporter.onProgress, confinement: 'none' }),
    );
    const pid = await reporter.pid;
    expect(outcome.code).toBe('JOB_TIMEOUT');
    expect(outcome.diagnostics?.signal).toBe('SIGKILL');
    expect(outcome.durationMs).toBeGreaterThanOrEqual(700);
    expect(processState(pid)).toBe('gone');
  });

  it('SIGKILLs a synchronous busy loop, which cannot even run a signal handler', async () => {
    const outcome = failed(await run('busy', { timeoutMs: 400, killGraceMs: 200 }));
    expect(outcome).toMatchObject({ code: 'JOB_TIMEOUT', diagnostics: { signal: 'SIGKILL' } });
  });

  it('cancels a running job through the AbortSignal: not retryable, process gone', async () => {
    const controller = new AbortController();
    const reporter = pidReporter();
    const pending = run('hang', { signal: controller.signal, onProgress: reporter.onProgress, confinement: 'none' });
    const pid = await reporter.pid;
    expect(processState(pid)).toBe('alive');
    controller.abort();
    const outcome = failed(await pending);
    expect(outcome).toMatchObject({ code: 'JOB_CANCELLED', retryable: false, message: 'The job was cancelled.' });
    expect(processState(pid)).toBe('gone');
  });

  it('does not start a job whose signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    expect(await run('echo', { signal: controller.signal })).toMatchObject({ ok: false, code: 'JOB_CANCELLED', durationMs: 0 });
  });

  it('reports a heap-limit abort as HANDLER_OUT_OF_MEMORY, not retryable', async () => {
    const outcome = failed(await run('oom', { memoryLimitMb: 64 }));
    expect(outcome).toMatchObject({ code: 'HANDLER_OUT_OF_MEMORY', retryable: false });
    expect(outcome.diagnostics?.stderrTail).toMatch(/heap/i);
    expect(outcome.diagnostics?.stderrTail?.length).toBeLessThanOrEqual(8 * 1024);
  });

  it('reports a child that exits before answering as HANDLER_CRASHED', async () => {
    expect(failed(await run('exit'))).toMatchObject({
      code: 'HANDLER_CRASHED',
      retryable: true,
      diagnostics: { exitCode: 0, signal: null },
    });
    expect(failed(await run('segfault'))).toMatchObject({ code: 'HANDLER_CRASHED', diagnostics: { signal: 'SIGSEGV' } });
  });

  it('gives the child none of the runner’s secrets, only the base variables and the allow-list', async () => {
    const saved = { ...process.env };
    process.env.CONTROLPLANE_RUNNER_KEY = 'secret-key-material';
    process.env.CONTROLPLANE_TLS_KEY_FILE = '/etc/controlplane/runner.key';
    process.env.NODE_OPTIONS = '--require /tmp/evil.cjs';
    process.env.SANDBOX_TEST_ALLOWED = 'shared-on-purpose';
    try {
      const outcome = await run('env', { envAllowlist: ['SANDBOX_TEST_ALLOWED'] });
      if (!outcome.ok) throw new Error(outcome.message);
      const env = outcome.output as Record<string, string>;
      const serialised = JSON.stringify(env);
      expect(serialised).not.toContain('secret-key-material');
      expect(serialised).not.toContain('runner.key');
      expect(Object.keys(env).filter((k) => k.startsWith('CONTROLPLANE_'))).toEqual([]);
      expect(env.NODE_OPTIONS).toBeUndefined();
      expect(env.SANDBOX_TEST_ALLOWED).toBe('shared-on-purpose');
      expect(env.PATH).toBe(process.env.PATH);
      // TMPDIR and HOME name the sandbox's own private temporary directory.
      expect(Object.keys(env).every((k) => ['PATH', 'NODE_ENV', 'TZ', 'LANG', 'TMPDIR', 'HOME', 'SANDBOX_TEST_ALLOWED'].includes(k))).toBe(
        true,
      );
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
  });

  it('kills the grandchildren of a timed-out handler', async () => {
    const reporter = pidReporter();
    const outcome = failed(await run('grandchild-hang', { timeoutMs: 1000, onProgress: reporter.onProgress, confinement: 'none' }));
    const grandchild = await reporter.pid;
    expect(outcome.code).toBe('JOB_TIMEOUT');
    await expectDead(grandchild);
  });

  it('kills the grandchildren a successful handler leaves behind', async () => {
    const outcome = await run('grandchild-leak', { confinement: 'none' });
    if (!outcome.ok) throw new Error(outcome.message);
    await expectDead((outcome.output as { grandchildPid: number }).grandchildPid);
  });

  it('fails only its own job when the child sends a malformed message', async () => {
    const [bad, good] = await Promise.all([run('garbage'), run('echo', { input: 'alongside' })]);
    expect(failed(bad)).toMatchObject({ code: 'HANDLER_CRASHED', diagnostics: { reason: 'the child sent a malformed message' } });
    expect(good).toMatchObject({ ok: true, output: { input: 'alongside' } });
  });

  it('stops reading, and kills the child, at a message over the size limit', async () => {
    const outcome = failed(await run('oversized', { maxOutputBytes: 64 * 1024 }));
    expect(outcome).toMatchObject({
      code: 'HANDLER_CRASHED',
      diagnostics: { reason: 'the child sent a message larger than the limit', signal: 'SIGKILL' },
    });
  });

  it('gives the child no IPC channel to forge a result on', async () => {
    // Jobs go to the child on a pipe it can only read, and answers come back on a pipe the runner
    // reads with a bound per line; there is no Node IPC channel at all.
    const outcome = failed(await run('ipc-send'));
    expect(outcome).toMatchObject({ code: 'HANDLER_FAILED', message: 'process.send is not a function' });
    expect(JSON.stringify(outcome)).not.toContain('forged');
  });

  it('rejects invalid options instead of starting anything', async () => {
    await expect(run('echo', { handlersModule: 'relative/handlers.mjs' })).rejects.toThrow(/absolute path/);
    await expect(run('echo', { envAllowlist: ['NODE_OPTIONS'] })).rejects.toThrow(/NODE_OPTIONS/);
    await expect(run('echo', { timeoutMs: 0 })).rejects.toThrow(/timeoutMs/);
    await expect(run('echo', { memoryLimitMb: 4 })).rejects.toThrow(/memoryLimitMb/);
  });
});

describe('runJobInSandbox with worker isolation', () => {
  const inWorker = (type: string, overrides: Overrides = {}): Promise<SandboxOutcome> => run(type, { isolation: 'worker', ...overrides });

  it('returns the output and reports progress', async () => {
    const progress: number[] = [];
    const outcome = await inWorker('echo', { input: [1, 2], onProgress: (pct) => progress.push(pct) });
    expect(outcome).toMatchObject({ ok: true, output: { input: [1, 2], type: 'echo', jobId: 'job-echo' } });
    expect(progress).toEqual([50, 100]);
  });

  it('fails, permanently or not, like a process', async () => {
    expect(failed(await inWorker('fail', { input: { reason: 'x' } }))).toMatchObject({
      code: 'HANDLER_FAILED',
      retryable: true,
      message: 'boom: x',
    });
    expect(failed(await inWorker('fail-permanent'))).toMatchObject({ code: 'HANDLER_FAILED', retryable: false });
  });

  it('terminates a busy loop at the timeout', async () => {
    const outcome = failed(await inWorker('busy', { timeoutMs: 400, killGraceMs: 200 }));
    expect(outcome).toMatchObject({ code: 'JOB_TIMEOUT', retryable: true });
    expect(outcome.durationMs).toBeGreaterThanOrEqual(600);
  });

  it('cancels a running job', async () => {
    const controller = new AbortController();
    const reporter = pidReporter();
    const pending = inWorker('hang', { signal: controller.signal, onProgress: reporter.onProgress });
    await reporter.pid;
    controller.abort();
    expect(failed(await pending)).toMatchObject({ code: 'JOB_CANCELLED', retryable: false });
  });

  it('enforces the heap limit', async () => {
    expect(failed(await inWorker('oom', { memoryLimitMb: 64 }))).toMatchObject({ code: 'HANDLER_OUT_OF_MEMORY', retryable: false });
  });

  it('gives the thread its own environment without the runner’s secrets', async () => {
    process.env.CONTROLPLANE_RUNNER_KEY = 'secret-key-material';
    try {
      const outcome = await inWorker('env');
      if (!outcome.ok) throw new Error(outcome.message);
      expect(JSON.stringify(outcome.output)).not.toContain('secret-key-material');
      expect(outcome.output).not.toHaveProperty('CONTROLPLANE_RUNNER_KEY');
    } finally {
      delete process.env.CONTROLPLANE_RUNNER_KEY;
    }
  });

  it('reports a thread that exits before answering as HANDLER_CRASHED', async () => {
    expect(failed(await inWorker('exit'))).toMatchObject({ code: 'HANDLER_CRASHED' });
  });
});

describe('sandbox resource hygiene', () => {
  it('leaves nothing behind that keeps the runner alive after jobs of every kind', async () => {
    // stderr to /dev/null rather than a pipe: the script's own stderr pipe would count as a handle.
    const child = spawn(process.execPath, [fixture('leak-check.mjs')], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 20_000,
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    const [code] = (await once(child, 'close')) as [number | null];
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { codes: string[]; resources: string[]; exitDelayMs: number };
    expect(report.codes).toEqual([
      'ok',
      'HANDLER_FAILED',
      'JOB_TIMEOUT',
      'JOB_TIMEOUT',
      'JOB_CANCELLED',
      'HANDLER_OUT_OF_MEMORY',
      'HANDLER_CRASHED',
      'HANDLER_CRASHED',
      'ok',
      'ok',
      'JOB_TIMEOUT',
      'HANDLER_OUT_OF_MEMORY',
    ]);
    // Nothing active once every job has settled, and the process ends at once: a leaked kill
    // timer (2 s by default), drain timer, listener or child would hold it open.
    expect(report.resources).toEqual([]);
    expect(report.exitDelayMs).toBeLessThan(250);
  });
});

describe('sandbox start-up overhead', () => {
  it('measures a no-op job in a process and in a worker (logged, not asserted)', async () => {
    const median = async (isolation: 'process' | 'worker'): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < 6; i++) {
        const started = performance.now();
        const outcome = await run('noop', { isolation });
        expect(outcome.ok).toBe(true);
        if (i > 0) times.push(performance.now() - started); // the first run warms the file cache
      }
      times.sort((a, b) => a - b);
      return times[Math.floor(times.length / 2)] ?? NaN;
    };
    const processMs = await median('process');
    const workerMs = await median('worker');
    console.log(`sandbox overhead (no-op job, median of 5): process ${processMs.toFixed(1)} ms, worker ${workerMs.toFixed(1)} ms`);
  });
});
