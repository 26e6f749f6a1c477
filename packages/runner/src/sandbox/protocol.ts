// The messages between the runner and a sandboxed job. Loaded by both sides, so it imports no
// package: the child pays for every import on every job.
//
// Channels (process isolation; one process may run many jobs, one at a time):
//   parent → child  newline-delimited JSON on fd 3: `run` with a job, or `stop` (abort the job
//                   now running). The parent only writes to this pipe and never reads from it.
//   child → parent  newline-delimited JSON on fd 4, read by the parent with a hard bound per line:
//                   { kind: 'ready' } once at start-up, then for each job any number of
//                   `progress` / `log`, exactly one `result` or `error`, and `idle` (with the heap it
//                   uses) once it is ready for the next job.
//   fd 0            the child's lifeline: the parent never writes to it; end-of-file means the
//                   runner is gone and the child kills its own process group.
// There is no Node IPC channel: Node buffers whatever arrives on one without any bound, and the
// child is untrusted.
// Worker isolation uses the same child → parent messages, as strings over the worker's port.
import { HANDLER_LOG_LEVELS, type HandlerLogLevel } from '../handler.js';

/** The pipe the parent writes jobs to. */
export const JOBS_FD = 3;
/** The pipe the child writes its messages to. */
export const MESSAGE_FD = 4;
export const DEFAULT_MAX_OUTPUT_BYTES = 8 * 1024 * 1024;
/** Room for the envelope around the output in a `result` line. */
export const MESSAGE_OVERHEAD_BYTES = 16 * 1024;
export const MAX_PROGRESS_MESSAGE_CHARS = 512;
export const MAX_LOG_MESSAGE_CHARS = 2048;
export const MAX_ERROR_MESSAGE_CHARS = 1024;

export interface SandboxJob {
  readonly id: string;
  readonly attempt: number;
  readonly type: string;
  readonly input: unknown;
  readonly correlationId?: string | undefined;
}

export type ParentMessage = { kind: 'run'; job: SandboxJob } | { kind: 'stop' };

export type ChildMessage =
  | { kind: 'ready' }
  | { kind: 'progress'; pct: number; message?: string }
  | { kind: 'log'; level: HandlerLogLevel; message: string }
  | { kind: 'result'; output: unknown }
  | { kind: 'error'; message: string; retryable: boolean }
  | { kind: 'idle'; heapUsedMb: number };

export function encode(message: ChildMessage): string {
  return JSON.stringify(message);
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasOnlyKeys(value: Record<string, unknown>, allowed: readonly string[]): boolean {
  return Object.keys(value).every((k) => allowed.includes(k));
}

function isOptionalText(value: unknown, max: number): boolean {
  return value === undefined || (typeof value === 'string' && value.length <= max);
}

/**
 * Decodes one line (or worker message) from the untrusted side. Anything that is not exactly one
 * of the messages above — wrong kind, extra keys, out-of-range numbers, over-long text — is
 * `undefined`, which the parent treats as a crash of that job.
 */
export function decodeChildMessage(text: string): ChildMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  switch (value.kind) {
    case 'ready':
      return hasOnlyKeys(value, ['kind']) ? { kind: 'ready' } : undefined;
    case 'progress': {
      const { pct, message } = value;
      if (!hasOnlyKeys(value, ['kind', 'pct', 'message'])) return undefined;
      if (typeof pct !== 'number' || !Number.isFinite(pct) || pct < 0 || pct > 100) return undefined;
      if (!isOptionalText(message, MAX_PROGRESS_MESSAGE_CHARS)) return undefined;
      return message === undefined ? { kind: 'progress', pct } : { kind: 'progress', pct, message: message as string };
    }
    case 'log': {
      const { level, message } = value;
      if (!hasOnlyKeys(value, ['kind', 'level', 'message'])) return undefined;
      if (!HANDLER_LOG_LEVELS.includes(level as HandlerLogLevel)) return undefined;
      if (typeof message !== 'string' || message.length > MAX_LOG_MESSAGE_CHARS) return undefined;
      return { kind: 'log', level: level as HandlerLogLevel, message };
    }
    case 'result':
      return hasOnlyKeys(value, ['kind', 'output']) && 'output' in value ? { kind: 'result', output: value.output } : undefined;
    case 'error': {
      const { message, retryable } = value;
      if (!hasOnlyKeys(value, ['kind', 'message', 'retryable'])) return undefined;
      if (typeof message !== 'string' || message.length > MAX_ERROR_MESSAGE_CHARS || typeof retryable !== 'boolean') return undefined;
      return { kind: 'error', message, retryable };
    }
    case 'idle': {
      const { heapUsedMb } = value;
      if (!hasOnlyKeys(value, ['kind', 'heapUsedMb'])) return undefined;
      if (typeof heapUsedMb !== 'number' || !Number.isFinite(heapUsedMb) || heapUsedMb < 0) return undefined;
      return { kind: 'idle', heapUsedMb };
    }
    default:
      return undefined;
  }
}

/** The child validates what it is sent too: it is cheap, and a bad job must not reach a handler. */
export function decodeParentMessage(value: unknown): ParentMessage | undefined {
  if (!isRecord(value)) return undefined;
  if (value.kind === 'stop') return { kind: 'stop' };
  if (value.kind !== 'run' || !isRecord(value.job)) return undefined;
  const { id, attempt, type, input, correlationId } = value.job;
  if (typeof id !== 'string' || typeof type !== 'string') return undefined;
  if (typeof attempt !== 'number' || !Number.isSafeInteger(attempt) || attempt < 1) return undefined;
  if (correlationId !== undefined && typeof correlationId !== 'string') return undefined;
  return { kind: 'run', job: { id, attempt, type, input, correlationId } };
}

/** Splits a byte stream into lines, refusing to buffer a line longer than `maxLineBytes`. */
export class BoundedLineSplitter {
  private parts: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxLineBytes: number) {}

  /** Returns the complete lines in `chunk`, or 'overflow' once a line exceeds the bound. */
  push(chunk: Buffer): string[] | 'overflow' {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      if (this.pendingBytes + piece.length > this.maxLineBytes) return 'overflow';
      this.parts.push(piece);
      lines.push(Buffer.concat(this.parts).toString('utf8'));
      this.parts = [];
      this.pendingBytes = 0;
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length > 0) {
      if (this.pendingBytes + rest.length > this.maxLineBytes) return 'overflow';
      this.parts.push(rest);
      this.pendingBytes += rest.length;
    }
    return lines;
  }
}
