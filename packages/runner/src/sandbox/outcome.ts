import { AppError } from '@controlplane/contracts';

/** The job-outcome codes of the contracts error registry that a sandboxed run can end with. */
export type SandboxFailureCode = 'HANDLER_FAILED' | 'JOB_TIMEOUT' | 'HANDLER_CRASHED' | 'HANDLER_OUT_OF_MEMORY' | 'JOB_CANCELLED';

/**
 * For the runner's log only, never for the job's public error: stderr can hold anything the
 * handler printed, including its input.
 */
export interface SandboxDiagnostics {
  readonly exitCode?: number | null;
  readonly signal?: string | null;
  /** The last few KiB the child wrote to stderr. */
  readonly stderrTail?: string;
  /** Why the runner ended the child, when it was not a timeout or cancellation. */
  readonly reason?: string;
}

export type SandboxOutcome =
  | { readonly ok: true; readonly output: unknown; readonly durationMs: number }
  | {
      readonly ok: false;
      readonly code: SandboxFailureCode;
      readonly message: string;
      readonly retryable: boolean;
      readonly durationMs: number;
      readonly diagnostics?: SandboxDiagnostics;
    };

export function failure(
  code: SandboxFailureCode,
  durationMs: number,
  options: { message?: string; retryable?: boolean; params?: Record<string, number>; diagnostics?: SandboxDiagnostics } = {},
): SandboxOutcome {
  // The registry owns the public message and the default retryability of each code.
  const err = new AppError(code, {
    ...(options.message !== undefined ? { message: options.message } : {}),
    ...(options.retryable !== undefined ? { retryable: options.retryable } : {}),
    ...(options.params ? { params: options.params } : {}),
  });
  return {
    ok: false,
    code,
    message: err.message,
    retryable: err.retryable,
    durationMs,
    ...(options.diagnostics ? { diagnostics: options.diagnostics } : {}),
  };
}

// What V8 prints when the old generation hits --max-old-space-size, just before it aborts.
const HEAP_LIMIT_TEXT = /Reached heap limit|JavaScript heap out of memory|Allocation failed - process out of memory/;

export function looksLikeHeapExhaustion(stderrTail: string): boolean {
  return HEAP_LIMIT_TEXT.test(stderrTail);
}

/** Keeps only the last `maxBytes` of a stream, so a chatty or hostile child costs a fixed amount. */
export class BoundedTail {
  private tail = Buffer.alloc(0);

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): void {
    // Copy rather than slice: a slice would pin the (possibly large) chunk it came from.
    this.tail =
      chunk.length >= this.maxBytes
        ? Buffer.from(chunk.subarray(chunk.length - this.maxBytes))
        : Buffer.from(Buffer.concat([this.tail, chunk]).subarray(-this.maxBytes));
  }

  text(): string {
    return this.tail.toString('utf8');
  }
}
