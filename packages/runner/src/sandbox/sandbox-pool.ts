// A warm pool of sandbox processes for one handler: started with the runner, reused job after job,
// and replaced — before the next job needs one — whenever a process must not be used again.
import { failure, type SandboxOutcome } from './outcome.js';
import type { SandboxJob } from './protocol.js';
import { SandboxProcess, type JobRunOptions, type SandboxProcessOptions } from './sandbox-process.js';

/** Why a process was ended instead of being given the next job. */
export type RecycleReason = 'max-jobs' | 'heap' | 'failure' | 'error' | 'per-job' | 'unresponsive' | 'exited';

export interface SandboxPoolOptions {
  /** For logs and metrics: the handler's first job type. */
  name: string;
  /** Processes kept: the handler's concurrency. */
  size: number;
  /** A fresh process for every job (`isolation: 'process-per-job'`); the next one is still started ahead. */
  perJob: boolean;
  /** A process is recycled after this many jobs. */
  maxJobsPerProcess: number;
  /** A job that failed with a thrown error also recycles its process. */
  recycleOnError: boolean;
  /** A process whose heap is above this after a job is recycled (MiB). */
  recycleHeapMb: number;
  process: SandboxProcessOptions;
  onRecycle?: (reason: RecycleReason, details: { jobsRun: number; heapUsedMb: number }) => void;
  onStartFailure?: (err: Error) => void;
}

/** How long a process may take from its answer to saying it is idle again. */
const SETTLE_MS = 2_000;
const RESTART_BACKOFF_MS = [100, 500, 1_000, 5_000, 30_000];

export interface SandboxPoolStats {
  size: number;
  idle: number;
  busy: number;
  recycled: Record<RecycleReason, number>;
}

export class SandboxPool {
  readonly #live = new Set<SandboxProcess>();
  readonly #idle: SandboxProcess[] = [];
  #waiters: Array<{ resolve: (p: SandboxProcess) => void; reject: (err: Error) => void }> = [];
  #closed = false;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  readonly #recycled: Record<RecycleReason, number> = {
    'max-jobs': 0,
    heap: 0,
    failure: 0,
    error: 0,
    'per-job': 0,
    unresponsive: 0,
    exited: 0,
  };

  constructor(readonly o: SandboxPoolOptions) {}

  /** Starts the pool's processes and resolves once every one is ready (or rejects with why one is not). */
  async start(): Promise<void> {
    const started = Array.from({ length: this.o.size }, () => this.#spawn());
    await Promise.all(started.map((p) => p.ready));
  }

  stats(): SandboxPoolStats {
    return { size: this.#live.size, idle: this.#idle.length, busy: this.#live.size - this.#idle.length, recycled: { ...this.#recycled } };
  }

  /** Runs a job on a warm process; waits for one when all are busy (the runner never asks for more than the pool's size). */
  async run(job: SandboxJob, options: JobRunOptions): Promise<SandboxOutcome> {
    let proc: SandboxProcess;
    const startedAt = performance.now();
    try {
      proc = await this.#acquire(options.signal);
    } catch (err) {
      const elapsed = Math.round(performance.now() - startedAt);
      if (options.signal?.aborted) return failure('JOB_CANCELLED', elapsed);
      return failure('HANDLER_CRASHED', elapsed, { diagnostics: { reason: (err as Error).message } });
    }
    // A pooled process keeps its directory between jobs: empty it so no job sees another's files.
    if (proc.jobsRun > 0) proc.clearTmp();
    const outcome = await proc.run(job, options);
    void this.#afterJob(proc, outcome);
    return outcome;
  }

  /** Ends every process; jobs still running end as crashes (the runner drains before closing). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    for (const w of this.#waiters) w.reject(new Error('the sandbox pool is closed'));
    this.#waiters = [];
    const all = [...this.#live];
    for (const p of all) p.retire();
    await Promise.all(all.map((p) => p.exited));
  }

  async #afterJob(proc: SandboxProcess, outcome: SandboxOutcome): Promise<void> {
    let reason: RecycleReason | undefined;
    if (this.o.perJob) reason = 'per-job';
    else if (!outcome.ok && outcome.code !== 'HANDLER_FAILED') reason = 'failure';
    else if (!outcome.ok && this.o.recycleOnError) reason = 'error';
    else if (proc.jobsRun >= this.o.maxJobsPerProcess) reason = 'max-jobs';
    if (!reason) {
      const heap = await proc.settled(SETTLE_MS);
      if (heap === undefined) reason = proc.state === 'dead' ? 'exited' : 'unresponsive';
      else if (heap > this.o.recycleHeapMb) reason = 'heap';
    }
    if (!reason && !this.#closed) return this.#release(proc);
    this.#recycle(proc, reason ?? 'exited');
  }

  #recycle(proc: SandboxProcess, reason: RecycleReason): void {
    this.#recycled[reason] += 1;
    this.o.onRecycle?.(reason, { jobsRun: proc.jobsRun, heapUsedMb: proc.heapUsedMb });
    this.#drop(proc);
    proc.retire();
    if (!this.#closed) this.#spawn();
  }

  #drop(proc: SandboxProcess): void {
    this.#live.delete(proc);
    const i = this.#idle.indexOf(proc);
    if (i !== -1) this.#idle.splice(i, 1);
  }

  #spawn(): SandboxProcess {
    const proc = new SandboxProcess(this.o.process);
    this.#live.add(proc);
    proc.ready.then(
      () => {
        this.#failures = 0;
        this.#release(proc);
      },
      (err: Error) => this.#startFailed(proc, err),
    );
    // A process that dies while idle (a handler's leftover code crashed it) is replaced.
    void proc.exited.then(() => {
      if (this.#live.has(proc) && this.#idle.includes(proc)) this.#recycle(proc, 'exited');
    });
    return proc;
  }

  #startFailed(proc: SandboxProcess, err: Error): void {
    this.#drop(proc);
    if (this.#closed) return;
    this.o.onStartFailure?.(err);
    // Nobody is served by a pool that cannot start: waiting jobs fail now (retryable), and the
    // process is started again with a growing delay.
    for (const w of this.#waiters) w.reject(err);
    this.#waiters = [];
    const delay = RESTART_BACKOFF_MS[Math.min(this.#failures, RESTART_BACKOFF_MS.length - 1)]!;
    this.#failures += 1;
    this.#restartTimer = setTimeout(() => {
      if (!this.#closed) this.#spawn();
    }, delay);
    this.#restartTimer.unref();
  }

  #release(proc: SandboxProcess): void {
    if (proc.state !== 'idle') return;
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(proc);
    else this.#idle.push(proc);
  }

  #acquire(signal: AbortSignal | undefined): Promise<SandboxProcess> {
    if (this.#closed) return Promise.reject(new Error('the sandbox pool is closed'));
    const proc = this.#idle.shift();
    if (proc) return Promise.resolve(proc);
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (p: SandboxProcess) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(p);
        },
        reject: (err: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new Error('cancelled while waiting for a sandbox process'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }
}
