// The part of running a sandboxed job that does not depend on what the sandbox is (process or
// worker): the deadline, cancellation, the stop-then-kill sequence, reading the child's messages,
// and deciding the outcome once the sandbox has gone.
import type { HandlerLogLevel } from '../handler.js';
import { type ChildMessage, decodeChildMessage } from './protocol.js';
import { failure, looksLikeHeapExhaustion, type SandboxDiagnostics, type SandboxOutcome } from './outcome.js';

/** What a concrete sandbox lets the supervisor do to it. */
export interface SandboxControls {
  /** Ask the sandbox to stop (SIGTERM to the group / a stop message). */
  stop(): void;
  /** End it now (SIGKILL to the group / Worker.terminate). Must be safe to call repeatedly. */
  kill(): void;
  /** Send the job, when the protocol waits for the child's `ready` first. */
  sendRun?(): void;
  /** Called once the answer is in, for a sandbox that does not end by itself. */
  afterAnswer?(): void;
}

export interface SupervisorOptions {
  timeoutMs: number;
  killGraceMs: number;
  signal?: AbortSignal | undefined;
  onProgress?: ((pct: number, message?: string) => void) | undefined;
  onLog?: ((level: HandlerLogLevel, message: string) => void) | undefined;
  /** True when the child announces itself with `ready` before it is sent the job. */
  expectReady: boolean;
  /**
   * The sandbox lives on after answering (a pooled process): the outcome is settled as soon as
   * the answer arrives, and nothing is killed.
   */
  settleOnAnswer?: boolean;
}

export interface SandboxExit {
  code: number | null;
  signal: string | null;
  stderrTail: string;
  /** Set by a sandbox that knows for certain it hit its memory limit (worker threads do). */
  outOfMemory?: boolean;
  /** A crash the sandbox observed directly (e.g. the process could not be started). */
  reason?: string;
}

type Verdict =
  | { kind: 'answer'; message: Extract<ChildMessage, { kind: 'result' | 'error' }> }
  | { kind: 'timeout' }
  | { kind: 'cancelled' }
  | { kind: 'violation'; reason: string };

export class JobSupervisor {
  readonly done: Promise<SandboxOutcome>;
  private resolve!: (outcome: SandboxOutcome) => void;
  private controls: SandboxControls | undefined;
  private verdict: Verdict | undefined;
  private ready = false;
  private finished = false;
  private readonly startedAt = performance.now();
  private deadline: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private readonly onAbort = (): void => this.conclude({ kind: 'cancelled' });

  constructor(private readonly options: SupervisorOptions) {
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  /** The job was settled by the child's own answer (not a timeout, cancellation or crash). */
  get answered(): boolean {
    return this.finished && this.verdict?.kind === 'answer';
  }

  /** Starts the clock; call once the sandbox exists. */
  attach(controls: SandboxControls): void {
    this.controls = controls;
    this.deadline = setTimeout(() => this.conclude({ kind: 'timeout' }), this.options.timeoutMs);
    this.options.signal?.addEventListener('abort', this.onAbort, { once: true });
    if (this.options.signal?.aborted) this.onAbort();
  }

  /** One line / message from the child, still untrusted. */
  receive(text: string): void {
    this.receiveMessage(decodeChildMessage(text));
  }

  /** A message from the child, decoded (undefined: it was malformed). */
  receiveMessage(message: ChildMessage | undefined): void {
    if (this.verdict) {
      // Nothing the child says now changes the outcome; but a late answer to a stop request means
      // the handler has let go, so a sandbox that does not exit by itself can be ended early.
      if (message?.kind === 'result' || message?.kind === 'error') this.controls?.afterAnswer?.();
      return;
    }
    if (!message) return this.violation('the child sent a malformed message');
    switch (message.kind) {
      case 'ready':
        if (!this.options.expectReady || this.ready) return this.violation('the child sent an unexpected ready message');
        this.ready = true;
        this.controls?.sendRun?.();
        return;
      case 'progress':
        if (this.options.expectReady && !this.ready) return this.violation('the child reported progress before it was sent the job');
        // A throwing callback is the caller's bug; it must not turn into this job's failure.
        try {
          this.options.onProgress?.(message.pct, message.message);
        } catch {
          /* ignored on purpose */
        }
        return;
      case 'log':
        try {
          this.options.onLog?.(message.level, message.message);
        } catch {
          /* ignored on purpose */
        }
        return;
      case 'result':
      case 'error':
        if (this.options.expectReady && !this.ready) return this.violation('the child answered before it was sent the job');
        this.conclude({ kind: 'answer', message });
        return;
      case 'idle':
        return this.violation('the child reported idle while running a job');
    }
  }

  /** The child broke the protocol: its job is a crash, and it gets no grace period. */
  violation(reason: string): void {
    if (this.verdict) return;
    this.verdict = { kind: 'violation', reason };
    this.clearDeadline();
    this.controls?.kill();
  }

  private conclude(verdict: Verdict): void {
    if (this.verdict || this.finished) return;
    this.verdict = verdict;
    this.clearDeadline();
    if (verdict.kind === 'answer') {
      if (this.options.settleOnAnswer) {
        this.finish({ code: null, signal: null, stderrTail: '' });
        return;
      }
      // A child process exits by itself after answering; the timer only bounds one that does not.
      this.killTimer = setTimeout(() => this.controls?.kill(), this.options.killGraceMs);
      this.controls?.afterAnswer?.();
      return;
    }
    this.controls?.stop();
    this.killTimer = setTimeout(() => this.controls?.kill(), this.options.killGraceMs);
  }

  private clearDeadline(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = undefined;
    this.options.signal?.removeEventListener('abort', this.onAbort);
  }

  /** The sandbox is gone (reaped / thread exited). Resolves `done`; later calls are ignored. */
  finish(exit: SandboxExit): void {
    if (this.finished) return;
    this.finished = true;
    this.clearDeadline();
    if (this.killTimer) clearTimeout(this.killTimer);
    this.killTimer = undefined;
    this.resolve(this.outcome(exit));
  }

  private outcome(exit: SandboxExit): SandboxOutcome {
    const durationMs = Math.round(performance.now() - this.startedAt);
    const verdict = this.verdict;
    const diagnostics: SandboxDiagnostics = {
      exitCode: exit.code,
      signal: exit.signal,
      ...(exit.stderrTail ? { stderrTail: exit.stderrTail } : {}),
      ...(verdict?.kind === 'violation' ? { reason: verdict.reason } : exit.reason ? { reason: exit.reason } : {}),
    };
    if (verdict?.kind === 'answer') {
      const m = verdict.message;
      if (m.kind === 'result') return { ok: true, output: m.output, durationMs };
      return failure('HANDLER_FAILED', durationMs, { message: m.message, retryable: m.retryable });
    }
    if (verdict?.kind === 'cancelled') return failure('JOB_CANCELLED', durationMs, { diagnostics });
    if (verdict?.kind === 'timeout')
      return failure('JOB_TIMEOUT', durationMs, { params: { timeoutMs: this.options.timeoutMs }, diagnostics });
    if (verdict?.kind === 'violation') {
      return failure('HANDLER_CRASHED', durationMs, {
        message: 'The job handler broke the sandbox protocol and was stopped.',
        diagnostics,
      });
    }
    // Gone without answering. A heap-limit abort is recognised by V8's own last words on stderr,
    // and only when the exit was abnormal, so that a clean exit is never mistaken for one.
    const abnormal = exit.signal !== null || (exit.code !== null && exit.code !== 0);
    if (exit.outOfMemory || (abnormal && looksLikeHeapExhaustion(exit.stderrTail))) {
      return failure('HANDLER_OUT_OF_MEMORY', durationMs, { diagnostics });
    }
    return failure('HANDLER_CRASHED', durationMs, { diagnostics });
  }
}
