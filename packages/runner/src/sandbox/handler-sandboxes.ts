// The runner's sandboxes: a warm pool of confined processes for each handler (or a worker thread
// per job for a handler that asked for one and a runner that accepts no confinement).
import { InternalError } from '@controlplane/contracts/internal-error';
import type { Logger } from '@controlplane/platform';
import { handlerTypes, type HandlerDefinition } from '../handler.js';
import { activeLayers, confinementShortfall, detectConfinement, type ConfinementMode } from './confinement.js';
import type { JobRunOptions } from './sandbox-process.js';
import type { SandboxOutcome } from './outcome.js';
import { DEFAULT_MAX_OUTPUT_BYTES, type SandboxJob } from './protocol.js';
import { runJobInSandbox, sandboxEnvironment, sandboxProcessOptions } from './run-job.js';
import { SandboxPool, type SandboxPoolStats } from './sandbox-pool.js';

export interface HandlerSandboxesOptions {
  /** Absolute path of the handlers module. */
  handlersModule: string;
  handlers: readonly HandlerDefinition[];
  confinement: ConfinementMode;
  /** Paths that must stay hidden from every sandbox (the runner's identity directory). */
  hiddenPaths: readonly string[];
  /** Further directories sandboxes may read. */
  readPaths?: readonly string[];
  sourceEnv: Readonly<Record<string, string | undefined>>;
  envAllowlist?: readonly string[];
  defaultMemoryLimitMb: number;
  logger: Logger;
}

const DEFAULT_MAX_JOBS_PER_PROCESS = 1000;
const START_TIMEOUT_MS = 30_000;

export class HandlerSandboxes {
  readonly #pools = new Map<HandlerDefinition, SandboxPool>();
  readonly layers: readonly string[];

  private constructor(
    private readonly o: HandlerSandboxesOptions,
    layers: readonly string[],
  ) {
    this.layers = layers;
  }

  /**
   * Checks that the confinement asked for can be had here (or refuses to start, saying what to do),
   * then starts every handler's pool and waits until each process is ready.
   */
  static async start(o: HandlerSandboxesOptions): Promise<HandlerSandboxes> {
    const shortfall = confinementShortfall(o.confinement);
    if (shortfall) throw new InternalError('CP_RUNNER_CONFINEMENT_UNAVAILABLE', { params: { mode: o.confinement, reason: shortfall } });
    for (const h of o.handlers) {
      if (h.isolation === 'worker' && o.confinement !== 'none') {
        throw new InternalError('CP_RUNNER_CONFINEMENT_UNAVAILABLE', {
          params: {
            mode: o.confinement,
            reason: `handler ${handlerTypes(h)[0]} asks for a worker thread, which shares the runner's process and cannot be confined; use isolation 'process' or 'process-per-job', or set confinement: 'none'`,
          },
        });
      }
    }
    const sandboxes = new HandlerSandboxes(o, activeLayers(o.confinement, detectConfinement()));
    try {
      await Promise.all(o.handlers.filter((h) => h.isolation !== 'worker').map((h) => sandboxes.#startPool(h)));
    } catch (err) {
      await sandboxes.close();
      throw err;
    }
    return sandboxes;
  }

  async #startPool(h: HandlerDefinition): Promise<void> {
    const name = handlerTypes(h)[0]!;
    const memoryLimitMb = h.memoryLimitMb ?? this.o.defaultMemoryLimitMb;
    const pool = new SandboxPool({
      name,
      size: h.concurrency ?? 1,
      perJob: h.isolation === 'process-per-job',
      maxJobsPerProcess: h.maxJobsPerProcess ?? DEFAULT_MAX_JOBS_PER_PROCESS,
      recycleOnError: h.recycleOnError ?? false,
      recycleHeapMb: h.recycleHeapMb ?? Math.floor(memoryLimitMb * 0.75),
      process: sandboxProcessOptions({
        handlersModule: this.o.handlersModule,
        memoryLimitMb,
        maxOutputBytes: DEFAULT_MAX_OUTPUT_BYTES,
        env: sandboxEnvironment(this.o.sourceEnv, this.o.envAllowlist ?? []),
        confinement: this.o.confinement,
        hiddenPaths: this.o.hiddenPaths,
        readPaths: this.o.readPaths ?? [],
        startTimeoutMs: START_TIMEOUT_MS,
      }),
      onRecycle: (reason, details) => this.o.logger.debug({ handler: name, reason, ...details }, 'sandbox process recycled'),
      onStartFailure: (err) => this.o.logger.error({ handler: name, err: err.message }, 'a sandbox process could not start; retrying'),
    });
    this.#pools.set(h, pool);
    await pool.start();
  }

  /** Runs a job of `handler` on one of its warm processes (or a worker thread). */
  run(handler: HandlerDefinition, job: SandboxJob, options: JobRunOptions & { memoryLimitMb?: number }): Promise<SandboxOutcome> {
    const pool = this.#pools.get(handler);
    if (pool) return pool.run(job, options);
    return runJobInSandbox({
      handlersModule: this.o.handlersModule,
      job,
      timeoutMs: options.timeoutMs,
      memoryLimitMb: handler.memoryLimitMb ?? this.o.defaultMemoryLimitMb,
      isolation: 'worker',
      sourceEnv: this.o.sourceEnv,
      ...(this.o.envAllowlist ? { envAllowlist: [...this.o.envAllowlist] } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.onLog ? { onLog: options.onLog } : {}),
    });
  }

  stats(): Record<string, SandboxPoolStats> {
    return Object.fromEntries([...this.#pools.values()].map((p) => [p.o.name, p.stats()]));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#pools.values()].map((p) => p.close()));
  }
}
