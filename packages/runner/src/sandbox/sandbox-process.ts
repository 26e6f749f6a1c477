// One sandbox child process, confined (confinement.ts), that runs jobs one at a time for as long as
// its pool keeps it. Everything the runner learns from the process is untrusted: messages are read
// with a hard bound per line and decoded strictly; anything off-protocol ends the job as a crash
// and the process with it.
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { sandboxCommand, SANDBOX_GID, SANDBOX_UID, type ConfinementMode } from './confinement.js';
import { JobSupervisor, type SupervisorOptions } from './job-supervisor.js';
import { BoundedTail, type SandboxOutcome } from './outcome.js';
import { BoundedLineSplitter, decodeChildMessage, JOBS_FD, MESSAGE_FD, MESSAGE_OVERHEAD_BYTES, type SandboxJob } from './protocol.js';

export interface SandboxProcessOptions {
  mode: ConfinementMode;
  /** The compiled child entry (child.js). */
  entry: string;
  handlersModule: string;
  readPaths: readonly string[];
  hiddenPaths: readonly string[];
  /** Where the process's private temporary directory is made. */
  tmpRoot: string;
  memoryLimitMb: number;
  maxOutputBytes: number;
  env: Readonly<Record<string, string>>;
  /** The process must be ready (its handlers module loaded) within this, or it is ended. */
  startTimeoutMs: number;
}

export type JobRunOptions = Omit<SupervisorOptions, 'expectReady' | 'settleOnAnswer'>;

// Enough to hold V8's fatal-error report (to classify an out-of-memory abort) and the start of a
// stack trace, without letting a child that floods stderr cost the runner memory.
const STDERR_TAIL_BYTES = 8 * 1024;
// After the process is reaped its pipes normally close at once; a process that escaped the group
// could hold them open forever, so the wait for them is bounded.
const PIPE_DRAIN_MS = 500;
// How long a process asked to exit (its job pipe closed) may take before it is killed.
const GRACEFUL_EXIT_MS = 1_000;

function noop(): void {}

function signalName(n: number): string {
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
}

/**
 * States: `starting` until the child says `ready`; `idle` between jobs; `busy` while a job runs;
 * `settling` from the answer until the child says `idle` again; `retired` once the runner has
 * decided to end it (killed, or about to be); `dead` once it is reaped.
 */
export type SandboxProcessState = 'starting' | 'idle' | 'busy' | 'settling' | 'retired' | 'dead';

export class SandboxProcess {
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  readonly tmpDir: string;
  #state: SandboxProcessState = 'starting';
  #child: ChildProcess | undefined;
  #jobs: Writable | undefined;
  #stderr = new BoundedTail(STDERR_TAIL_BYTES);
  #supervisor: JobSupervisor | undefined;
  #exit: { code: number | null; signal: string | null } = { code: null, signal: null };
  #resolveReady!: () => void;
  #rejectReady!: (err: Error) => void;
  /** Whether `ready` has settled (a process retired while starting must still settle it). */
  #readySettled = false;
  #resolveExited!: () => void;
  #idleWaiter: ((heapUsedMb: number | undefined) => void) | undefined;
  /** Jobs this process has been given. */
  jobsRun = 0;
  /** The heap the child reported after its last job. */
  heapUsedMb = 0;

  constructor(private readonly o: SandboxProcessOptions) {
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = () => {
        this.#readySettled = true;
        resolve();
      };
      this.#rejectReady = (err) => {
        this.#readySettled = true;
        reject(err);
      };
    });
    this.ready.catch(noop);
    this.exited = new Promise((resolve) => (this.#resolveExited = resolve));
    this.tmpDir = mkdtempSync(join(o.tmpRoot, 'sandbox-'));
    // The sandbox's own uid owns its directory; nobody else may look in (mode 0700 from mkdtemp).
    if (process.getuid?.() === 0 && o.mode !== 'none') chownSync(this.tmpDir, SANDBOX_UID, SANDBOX_GID);
    this.#spawn();
    const startTimer = setTimeout(() => {
      if (this.#state === 'starting') {
        this.#rejectReady(new Error(`the sandbox process was not ready within ${o.startTimeoutMs} ms`));
        this.retire();
      }
    }, o.startTimeoutMs);
    this.ready.then(
      () => clearTimeout(startTimer),
      () => clearTimeout(startTimer),
    );
  }

  get state(): SandboxProcessState {
    return this.#state;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  #spawn(): void {
    const cmd = sandboxCommand({
      mode: this.o.mode,
      entry: this.o.entry,
      entryArgs: [this.o.handlersModule, String(this.o.maxOutputBytes)],
      readPaths: this.o.readPaths,
      hiddenPaths: this.o.hiddenPaths,
      tmpDir: this.tmpDir,
      memoryLimitMb: this.o.memoryLimitMb,
      env: this.o.env,
    });
    let child: ChildProcess;
    try {
      child = spawn(cmd.command, cmd.args, {
        env: cmd.env,
        cwd: this.tmpDir,
        // Its own process group, so that one kill(-pid) reaches every process of the sandbox.
        detached: true,
        // fd 0: lifeline; fd 1: discarded; fd 2: bounded tail; fd 3: jobs (parent → child); fd 4: messages.
        stdio: ['pipe', 'ignore', 'pipe', 'pipe', 'pipe'],
        ...(cmd.uid !== undefined ? { uid: cmd.uid, gid: cmd.gid } : {}),
      });
    } catch (err) {
      this.#died(`the sandbox process could not be started: ${String(err)}`);
      return;
    }
    this.#child = child;
    this.#jobs = child.stdio[JOBS_FD] as Writable;
    const messages = child.stdio[MESSAGE_FD] as Readable;
    // Every stream of a dying child can report EPIPE/ECONNRESET; none of that may reach the runner.
    for (const s of [child.stdin, child.stderr, this.#jobs, messages]) s?.on('error', noop);
    child.on('error', (err) => {
      if (child.pid === undefined) this.#died(`the sandbox process could not be started: ${err.message}`);
    });
    child.stderr?.on('data', (chunk: Buffer) => this.#stderr.push(chunk));

    let openPipes = 2;
    let reaped = false;
    let drainTimer: NodeJS.Timeout | undefined;
    const pipeClosed = () => {
      openPipes -= 1;
      if (openPipes === 0 && reaped) this.#died();
    };
    child.stderr?.once('close', pipeClosed);
    messages.once('close', pipeClosed);
    child.once('exit', (code, signal) => {
      // bubblewrap reports a child killed by a signal as exit code 128 + the signal's number.
      this.#exit =
        this.o.mode === 'strict' && code !== null && code > 128 && code < 128 + 65
          ? { code: null, signal: signalName(code - 128) }
          : { code, signal };
      // The process is gone; anything it started is not. Finish them before the group id is released.
      this.#killGroup();
      reaped = true;
      if (openPipes === 0) this.#died();
      else drainTimer = setTimeout(() => this.#died(), PIPE_DRAIN_MS);
    });
    this.exited.then(() => clearTimeout(drainTimer), noop);

    const splitter = new BoundedLineSplitter(this.o.maxOutputBytes + MESSAGE_OVERHEAD_BYTES);
    messages.on('data', (chunk: Buffer) => {
      const lines = splitter.push(chunk);
      if (lines === 'overflow') {
        messages.destroy();
        this.#offProtocol('the child sent a message larger than the limit');
        return;
      }
      for (const line of lines) this.#receive(line);
    });
  }

  #receive(line: string): void {
    const message = decodeChildMessage(line);
    if (message?.kind === 'ready') {
      if (this.#state !== 'starting') return this.#offProtocol('the child sent an unexpected ready message');
      this.#state = 'idle';
      this.#resolveReady();
      return;
    }
    if (message?.kind === 'idle') {
      if (this.#state === 'retired') return;
      if (this.#state !== 'settling') return this.#offProtocol('the child reported idle while not settling a job');
      this.heapUsedMb = message.heapUsedMb;
      this.#state = 'idle';
      this.#idleWaiter?.(message.heapUsedMb);
      this.#idleWaiter = undefined;
      return;
    }
    const supervisor = this.#supervisor;
    if (!supervisor) {
      if (this.#state !== 'retired') this.#offProtocol('the child spoke while it had no job');
      return;
    }
    supervisor.receiveMessage(message);
    // An answer settles the job at once (the supervisor resolves synchronously); the next line
    // from the child — in the same chunk, perhaps — is its `idle`.
    if (supervisor.answered && this.#state === 'busy') {
      this.#state = 'settling';
      this.#supervisor = undefined;
    }
  }

  /** A protocol break: the job (if any) is a crash, and the process is ended at once. */
  #offProtocol(reason: string): void {
    if (this.#supervisor) this.#supervisor.violation(reason);
    else this.retire();
  }

  /**
   * Runs one job. Resolves with its outcome as soon as it is known: for an answer, while the
   * process lives on (`settling`, then `idle`); for a timeout, cancellation or crash, once the
   * process is gone.
   */
  run(job: SandboxJob, options: JobRunOptions): Promise<SandboxOutcome> {
    if (this.#state !== 'idle') throw new Error(`a sandbox process that is ${this.#state} cannot take a job`);
    this.#state = 'busy';
    this.jobsRun += 1;
    this.#stderr = new BoundedTail(STDERR_TAIL_BYTES);
    const supervisor = new JobSupervisor({ ...options, expectReady: false, settleOnAnswer: true });
    this.#supervisor = supervisor;
    supervisor.attach({
      stop: () => this.#write({ kind: 'stop' }),
      kill: () => this.retire(),
      // Called only for an answer that comes after a stop or a protocol break: the handler has let
      // go, and a process that was stopped is not used again. It is asked to exit (no more jobs);
      // the supervisor's kill timer still bounds one that does not.
      afterAnswer: () => this.retire({ graceful: true }),
    });
    void supervisor.done.then(() => {
      if (this.#supervisor === supervisor) this.#supervisor = undefined;
      // Not settled by an answer (a timeout, a cancellation, a crash): the process is ending.
      if (this.#state === 'busy') this.#state = 'retired';
    });
    this.#write({ kind: 'run', job });
    return supervisor.done;
  }

  /** Resolves once the child is idle again after a job (with its heap), or undefined if it never is. */
  settled(timeoutMs: number): Promise<number | undefined> {
    if (this.#state === 'idle') return Promise.resolve(this.heapUsedMb);
    if (this.#state !== 'settling') return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#idleWaiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.#idleWaiter = (heap) => {
        clearTimeout(timer);
        resolve(heap);
      };
    });
  }

  /** Empties the private temporary directory (between jobs: a job never sees another's files). */
  clearTmp(): void {
    for (const name of readdirSync(this.tmpDir)) rmSync(join(this.tmpDir, name), { recursive: true, force: true });
  }

  /**
   * Ends the process: at once (SIGKILL to its group), or `graceful`ly — its job pipe is closed and
   * it exits by itself, with anything it left behind killed once it has (or after a short grace).
   * Idempotent.
   */
  retire(options: { graceful?: boolean } = {}): void {
    if (this.#state === 'dead') return;
    this.#state = 'retired';
    this.#idleWaiter?.(undefined);
    this.#idleWaiter = undefined;
    if (!options.graceful) return this.#killGroup();
    this.#jobs?.end();
    const timer = setTimeout(() => this.#killGroup(), GRACEFUL_EXIT_MS);
    void this.exited.then(() => clearTimeout(timer));
  }

  #write(message: { kind: 'run'; job: SandboxJob } | { kind: 'stop' }): void {
    let line: string;
    try {
      line = `${JSON.stringify(message)}\n`;
    } catch {
      // The job input cannot be serialised (BigInt, cycle): the child can never be sent it.
      this.#supervisor?.violation('the job input could not be serialised');
      return;
    }
    this.#jobs?.write(line);
  }

  #killGroup(): void {
    const pid = this.#child?.pid;
    // Once the group is gone its id may in principle be reused: never signal it after that.
    if (pid === undefined || this.#state === 'dead') return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // ESRCH: the whole group is already gone.
    }
  }

  #died(reason?: string): void {
    if (this.#state === 'dead') return;
    this.#state = 'dead';
    const child = this.#child;
    child?.stdin?.destroy();
    child?.stderr?.destroy();
    this.#jobs?.destroy();
    (child?.stdio[MESSAGE_FD] as Readable | undefined)?.destroy();
    child?.removeAllListeners();
    child?.on('error', noop);
    const stderrTail = this.#stderr.text();
    if (!this.#readySettled)
      this.#rejectReady(new Error(reason ?? `the sandbox process exited before it was ready: ${stderrTail.slice(-500)}`));
    this.#supervisor?.finish({ ...this.#exit, stderrTail, ...(reason ? { reason } : {}) });
    this.#supervisor = undefined;
    this.#idleWaiter?.(undefined);
    rmSync(this.tmpDir, { recursive: true, force: true });
    this.#resolveExited();
  }
}
