import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { HandlerIsolation, HandlerLogLevel } from '../handler.js';
import { collapse, handlerReadPaths, realPath, type ConfinementMode } from './confinement.js';
import { JobSupervisor } from './job-supervisor.js';
import { failure, type SandboxOutcome } from './outcome.js';
import { DEFAULT_MAX_OUTPUT_BYTES, type SandboxJob } from './protocol.js';
import { SandboxProcess, type SandboxProcessOptions } from './sandbox-process.js';
import { runInWorker } from './worker-sandbox.js';

export const DEFAULT_KILL_GRACE_MS = 2000;
/**
 * The variables every sandbox gets (when the runner has them); anything else must be allow-listed.
 * Besides these, TMPDIR and HOME name the sandbox's own private temporary directory.
 */
export const SANDBOX_BASE_ENV_VARS: readonly string[] = ['PATH', 'NODE_ENV', 'TZ', 'LANG'];

export interface RunJobInSandboxOptions {
  /** Absolute path or file: URL of the handlers module. */
  handlersModule: string;
  job: SandboxJob;
  timeoutMs: number;
  /** V8 old-generation limit of the sandbox, in MiB. */
  memoryLimitMb: number;
  signal?: AbortSignal;
  onProgress?: (pct: number, message?: string) => void;
  onLog?: (level: HandlerLogLevel, message: string) => void;
  /** Further variable names copied from `sourceEnv` into the sandbox. */
  envAllowlist?: readonly string[];
  /** Between the polite stop (SIGTERM / stop message) and the hard kill. Default 2000. */
  killGraceMs?: number;
  /** Default 'process'. */
  isolation?: HandlerIsolation;
  /** Bound on the serialised output. Default 8 MiB. */
  maxOutputBytes?: number;
  /** Where the sandbox's variables are copied from. Defaults to the runner's own environment. */
  sourceEnv?: Readonly<Record<string, string | undefined>>;
  /** Default 'strict' (confinement.ts). */
  confinement?: ConfinementMode;
  /** Paths inside what the sandbox may read that it must not see (the runner's identity directory). */
  hiddenPaths?: readonly string[];
}

const MAX_TIMER_MS = 2 ** 31 - 1; // setTimeout fires at once for anything larger
const MIN_MEMORY_LIMIT_MB = 16;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Variables that would change how the sandbox itself boots (preloaded code, inspector, flags).
const REFUSED_ENV_NAMES = new Set(['NODE_OPTIONS']);

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new TypeError(`runJobInSandbox: ${message}`);
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  check(Number.isSafeInteger(value) && value >= min && value <= max, `${name} must be an integer from ${min} to ${max}.`);
}

function moduleUrl(handlersModule: string): string {
  if (handlersModule.startsWith('file:')) return new URL(handlersModule).href;
  check(isAbsolute(handlersModule), 'handlersModule must be an absolute path or a file: URL.');
  return pathToFileURL(handlersModule).href;
}

/** Built from nothing: only the base variables and the allow-list, never the rest of the runner's. */
export function sandboxEnvironment(
  source: Readonly<Record<string, string | undefined>>,
  allowlist: readonly string[],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...SANDBOX_BASE_ENV_VARS, ...allowlist]) {
    const value = source[name];
    if (typeof value === 'string') env[name] = value;
  }
  return env;
}

const entryCache = new Map<string, URL>();

/**
 * The compiled entry point a sandbox starts. Resolved next to this module; when this module is
 * itself the TypeScript source (tests run src/ under vitest), the compiled twin in dist/ is used,
 * because a plain node child cannot run .ts — so build first (`npx tsc -b packages/runner`).
 */
function sandboxEntry(file: 'child.js' | 'worker-entry.js'): URL {
  const cached = entryCache.get(file);
  if (cached) return cached;
  const here = import.meta.url;
  const url = here.endsWith('.ts')
    ? new URL(here.replace(/\/src\/sandbox\/[^/]+\.ts$/, `/dist/sandbox/${file}`))
    : new URL(`./${file}`, here);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(
      `runJobInSandbox: the sandbox entry ${fileURLToPath(url)} does not exist; build the runner package (npx tsc -b packages/runner).`,
    );
  }
  entryCache.set(file, url);
  return url;
}

/**
 * Runs one job in a fresh sandbox (a child process in its own process group, or a worker thread)
 * and reports how it ended. Whatever the handler does — throw, hang, exhaust its heap, exit, spam
 * the channel — ends as a SandboxOutcome; the promise rejects only for invalid options.
 */
export async function runJobInSandbox(options: RunJobInSandboxOptions): Promise<SandboxOutcome> {
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const isolation = options.isolation ?? 'process';
  checkInteger('timeoutMs', options.timeoutMs, 1, MAX_TIMER_MS);
  checkInteger('memoryLimitMb', options.memoryLimitMb, MIN_MEMORY_LIMIT_MB, 1024 * 1024);
  checkInteger('killGraceMs', killGraceMs, 0, MAX_TIMER_MS);
  checkInteger('maxOutputBytes', maxOutputBytes, 1, 512 * 1024 * 1024);
  check(
    isolation === 'process' || isolation === 'process-per-job' || isolation === 'worker',
    "isolation must be 'process', 'process-per-job' or 'worker'.",
  );
  const { job } = options;
  check(typeof job.id === 'string' && typeof job.type === 'string', 'job.id and job.type must be strings.');
  checkInteger('job.attempt', job.attempt, 1, Number.MAX_SAFE_INTEGER);
  const allowlist = options.envAllowlist ?? [];
  for (const name of allowlist) {
    check(ENV_NAME.test(name), `envAllowlist entry ${JSON.stringify(name)} is not a variable name.`);
    check(!REFUSED_ENV_NAMES.has(name), `${name} may not be passed to a sandbox.`);
  }
  const handlersModule = moduleUrl(options.handlersModule);

  if (options.signal?.aborted) return failure('JOB_CANCELLED', 0);

  // The one read of the runner's environment outside the config loader, and it is a filter: it
  // copies the few variables a child needs and leaves credentials and certificate paths behind.
  // eslint-disable-next-line no-restricted-properties
  const env = sandboxEnvironment(options.sourceEnv ?? process.env, allowlist);
  const sandboxJob: SandboxJob = {
    id: job.id,
    attempt: job.attempt,
    type: job.type,
    input: job.input,
    ...(job.correlationId !== undefined ? { correlationId: job.correlationId } : {}),
  };
  const runOptions = {
    timeoutMs: options.timeoutMs,
    killGraceMs,
    signal: options.signal,
    onProgress: options.onProgress,
    onLog: options.onLog,
  };
  if (isolation === 'worker') {
    const supervisor = new JobSupervisor({ ...runOptions, expectReady: false });
    const common = { handlersModule, job: sandboxJob, memoryLimitMb: options.memoryLimitMb, maxOutputBytes, env, supervisor };
    runInWorker({ ...common, workerEntry: sandboxEntry('worker-entry.js') });
    return supervisor.done;
  }
  // A process of its own for this one job: started, given the job, then ended.
  const started = performance.now();
  const proc = new SandboxProcess(
    sandboxProcessOptions({
      handlersModule: options.handlersModule,
      memoryLimitMb: options.memoryLimitMb,
      maxOutputBytes,
      env,
      confinement: options.confinement ?? 'strict',
      hiddenPaths: options.hiddenPaths ?? [],
      startTimeoutMs: options.timeoutMs,
    }),
  );
  try {
    await proc.ready;
  } catch (err) {
    proc.retire();
    await proc.exited;
    const elapsed = Math.round(performance.now() - started);
    if (/not ready within/.test((err as Error).message))
      return failure('JOB_TIMEOUT', elapsed, { params: { timeoutMs: options.timeoutMs } });
    return failure('HANDLER_CRASHED', elapsed, { diagnostics: { reason: (err as Error).message } });
  }
  // The job's clock starts once its process is ready, as it does on a warm process of a pool; the
  // start itself is bounded by the same timeout.
  const outcome = await proc.run(sandboxJob, runOptions);
  proc.retire();
  await proc.exited;
  return outcome;
}

export interface SandboxProcessParams {
  handlersModule: string;
  memoryLimitMb: number;
  maxOutputBytes: number;
  env: Record<string, string>;
  confinement: ConfinementMode;
  hiddenPaths: readonly string[];
  /** Further directories the sandbox may read (a handler's data files). */
  readPaths?: readonly string[];
  startTimeoutMs: number;
}

let tmpRoot: string | undefined;

/**
 * Where sandbox processes get their private temporary directories: one directory per runner
 * process, which other users may pass through (so a sandbox uid can reach its own directory) but
 * not list.
 */
export function sandboxTmpRoot(): string {
  if (tmpRoot) return tmpRoot;
  const dir = join(tmpdir(), `controlplane-sandboxes-${process.pid}`);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  chmodSync(dir, 0o711);
  tmpRoot = dir;
  return dir;
}

/** Everything a SandboxProcess needs for one handlers module. */
export function sandboxProcessOptions(p: SandboxProcessParams): SandboxProcessOptions {
  const modulePath = p.handlersModule.startsWith('file:') ? fileURLToPath(p.handlersModule) : p.handlersModule;
  const entry = fileURLToPath(sandboxEntry('child.js'));
  return {
    mode: p.confinement,
    entry,
    handlersModule: moduleUrl(p.handlersModule),
    // The runner's compiled sandbox code and what it imports, the handler's package and its
    // dependencies: code, and nothing else of the host.
    readPaths: collapse([...handlerReadPaths(entry), ...handlerReadPaths(modulePath), ...(p.readPaths ?? []).map(realPath)]),
    hiddenPaths: p.hiddenPaths.map(realPath),
    tmpRoot: sandboxTmpRoot(),
    memoryLimitMb: p.memoryLimitMb,
    maxOutputBytes: p.maxOutputBytes,
    env: p.env,
    startTimeoutMs: p.startTimeoutMs,
  };
}
