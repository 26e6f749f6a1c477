// The handler definition API. This module is also loaded inside every sandbox child, so it imports
// nothing beyond the language itself and the error vocabulary (the light entry point of the
// contracts, not the package with its schemas): each import here is paid again on every job's start-up.
import { InternalError } from '@controlplane/contracts/internal-error';

/**
 * - `process` (default): a warm pool of sandbox processes per handler, reused job after job. Module
 *   state persists between jobs of the same handler — and a runner only ever runs one tenant's
 *   jobs, so it is state shared between jobs of one handler and one tenant, never across tenants.
 * - `process-per-job`: a fresh process for every job (the next one is started ahead of time); for
 *   code that must never share a process, such as untrusted code.
 * - `worker`: a worker thread of the runner's own process — cheapest, and the weakest boundary.
 */
export type HandlerIsolation = 'process' | 'process-per-job' | 'worker';
export type HandlerLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type JsonSchemaObject = Readonly<Record<string, unknown>>;

export const HANDLER_LOG_LEVELS: readonly HandlerLogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface HandlerContext {
  readonly jobId: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** The job type this run was dispatched for (a handler may serve several). */
  readonly type: string;
  readonly correlationId: string | undefined;
  /** Aborts when the runner asks the job to stop (timeout or cancellation). */
  readonly signal: AbortSignal;
  /** Reports progress; `pct` is clamped to 0–100, `message` is truncated. */
  progress(pct: number, message?: string): void;
  /** Sends a log line to the runner, which logs it with the job's correlation id. */
  log(level: HandlerLogLevel, message: string): void;
}

export type HandlerRun = (input: unknown, ctx: HandlerContext) => Promise<unknown> | unknown;

export interface HandlerOptions {
  type: string | readonly string[];
  description?: string;
  inputSchema?: JsonSchemaObject;
  outputSchema?: JsonSchemaObject;
  timeoutMs?: number;
  concurrency?: number;
  memoryLimitMb?: number;
  /** Default 'process' (a warm, reused process); see HandlerIsolation. */
  isolation?: HandlerIsolation;
  /** A pooled process is recycled after this many jobs. Default 1000. */
  maxJobsPerProcess?: number;
  /** A job that throws also recycles its process (for handlers whose failures may leave state behind). Default false. */
  recycleOnError?: boolean;
  /** A pooled process whose heap is above this after a job is recycled (MiB). Default: three quarters of the memory limit. */
  recycleHeapMb?: number;
  run: HandlerRun;
}

export type HandlerDefinition = Readonly<Omit<HandlerOptions, 'type' | 'isolation'>> & {
  readonly type: string | readonly string[];
  readonly isolation: HandlerIsolation;
};

/** A handler definition that cannot be used (CP_RUNNER_HANDLER_INVALID); `problem` says why. */
function definitionError(problem: string): InternalError {
  return new InternalError('CP_RUNNER_HANDLER_INVALID', { params: { problem } });
}

/**
 * The brand that marks a permanent failure. It is looked up with Symbol.for so that a handler
 * bundling its own copy of this SDK (or none at all) can still mark an error as permanent.
 */
const NON_RETRYABLE: unique symbol = Symbol.for('controlplane.runner.nonRetryable');

/** Thrown by a handler to say that running the job again cannot succeed. */
export class NonRetryableError extends Error {
  readonly [NON_RETRYABLE] = true;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

export function isNonRetryableError(err: unknown): boolean {
  try {
    if (err instanceof NonRetryableError) return true;
    return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[NON_RETRYABLE] === true;
  } catch {
    // A thrown Proxy can throw from any trap; it is then just an ordinary (retryable) failure.
    return false;
  }
}

const KNOWN_KEYS = new Set([
  'type',
  'description',
  'inputSchema',
  'outputSchema',
  'timeoutMs',
  'concurrency',
  'memoryLimitMb',
  'isolation',
  'maxJobsPerProcess',
  'recycleOnError',
  'recycleHeapMb',
  'run',
]);
const MAX_TYPE_LENGTH = 200;
// V8 does not start a useful isolate below this; smaller limits only produce confusing crashes.
const MIN_MEMORY_LIMIT_MB = 16;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function checkPositiveInteger(name: string, value: unknown, min = 1): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw definitionError(`${name} must be an integer >= ${min}.`);
  }
}

function checkTypes(value: unknown): readonly string[] {
  const list: unknown[] = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
  if (list.length === 0) throw definitionError('type must be a non-empty string or a non-empty array of them.');
  for (const t of list) {
    if (typeof t !== 'string' || t.length === 0 || t.length > MAX_TYPE_LENGTH) {
      throw definitionError(`each job type must be a string of 1–${MAX_TYPE_LENGTH} characters.`);
    }
  }
  if (new Set(list).size !== list.length) throw definitionError('type lists the same job type twice.');
  return list as string[];
}

/**
 * Validates a handler and fills its defaults. Deliberately thin and idempotent: a handlers module
 * may also export plain `{ type, run }` objects, and the sandbox passes every entry through here.
 */
export function defineHandler(options: HandlerOptions): HandlerDefinition {
  const o: unknown = options;
  if (!isPlainObject(o)) throw definitionError('a handler must be a plain object.');
  for (const key of Object.keys(o)) {
    // Refusing unknown keys turns a typo such as `timeout` into an error instead of a silent default.
    if (!KNOWN_KEYS.has(key)) throw definitionError(`unknown handler option "${key}".`);
  }
  const types = checkTypes(o.type);
  if (typeof o.run !== 'function') throw definitionError(`handler for ${JSON.stringify(types[0])} has no run function.`);
  if (o.description !== undefined && typeof o.description !== 'string') throw definitionError('description must be a string.');
  for (const key of ['inputSchema', 'outputSchema'] as const) {
    if (o[key] !== undefined && !isPlainObject(o[key])) throw definitionError(`${key} must be a JSON Schema object.`);
  }
  checkPositiveInteger('timeoutMs', o.timeoutMs);
  checkPositiveInteger('concurrency', o.concurrency);
  checkPositiveInteger('memoryLimitMb', o.memoryLimitMb, MIN_MEMORY_LIMIT_MB);
  checkPositiveInteger('maxJobsPerProcess', o.maxJobsPerProcess);
  checkPositiveInteger('recycleHeapMb', o.recycleHeapMb);
  if (o.recycleOnError !== undefined && typeof o.recycleOnError !== 'boolean') throw definitionError('recycleOnError must be a boolean.');
  if (o.isolation !== undefined && o.isolation !== 'process' && o.isolation !== 'process-per-job' && o.isolation !== 'worker') {
    throw definitionError("isolation must be 'process', 'process-per-job' or 'worker'.");
  }
  return Object.freeze({
    ...(o as unknown as HandlerOptions),
    type: typeof o.type === 'string' ? o.type : Object.freeze([...types]),
    isolation: (o.isolation as HandlerIsolation | undefined) ?? 'process',
  });
}

export function handlerTypes(handler: Pick<HandlerDefinition, 'type'>): readonly string[] {
  return typeof handler.type === 'string' ? [handler.type] : handler.type;
}

/**
 * Reads a handlers module's namespace: its default export, or else its named export `handlers`,
 * must be an array of handlers. Returns them by job type; a type served twice is an error.
 */
export function handlersFromModule(namespace: unknown): ReadonlyMap<string, HandlerDefinition> {
  const ns = namespace as { default?: unknown; handlers?: unknown } | null;
  const list = Array.isArray(ns?.default) ? ns.default : Array.isArray(ns?.handlers) ? ns.handlers : undefined;
  if (!list) throw definitionError('a handlers module must export an array of handlers as its default export or as `handlers`.');
  const byType = new Map<string, HandlerDefinition>();
  for (const entry of list as unknown[]) {
    const handler = defineHandler(entry as HandlerOptions);
    for (const type of handlerTypes(handler)) {
      if (byType.has(type)) throw definitionError(`job type ${JSON.stringify(type)} has two handlers.`);
      byType.set(type, handler);
    }
  }
  return byType;
}
