// Runs one job in a fresh child process of its own process group (isolation: 'process').
import { fork, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { JobSupervisor } from './job-supervisor.js';
import { BoundedTail } from './outcome.js';
import { BoundedLineSplitter, MESSAGE_FD, MESSAGE_OVERHEAD_BYTES, type SandboxJob } from './protocol.js';

export interface ProcessSandboxParams {
  childEntry: URL;
  handlersModule: string;
  job: SandboxJob;
  memoryLimitMb: number;
  maxOutputBytes: number;
  env: Record<string, string>;
  supervisor: JobSupervisor;
}

// Enough to hold V8's fatal-error report (to classify an out-of-memory abort) and the start of a
// stack trace, without letting a child that floods stderr cost the runner memory.
const STDERR_TAIL_BYTES = 8 * 1024;
// After the child is reaped its pipes normally close at once; a grandchild that left the process
// group can hold them open forever, so the wait for them is bounded.
const PIPE_DRAIN_MS = 500;

function noop(): void {}

export function runInProcess(params: ProcessSandboxParams): void {
  const { supervisor } = params;
  const stderr = new BoundedTail(STDERR_TAIL_BYTES);
  let child: ChildProcess;
  try {
    child = fork(params.childEntry, [params.handlersModule, String(params.maxOutputBytes)], {
      // Replaces, not extends, the runner's own flags (inspector, loaders, --conditions, ...).
      execArgv: [`--max-old-space-size=${params.memoryLimitMb}`],
      env: params.env,
      // Its own process group, so that one kill(-pid) reaches every process the handler started.
      detached: true,
      // fd 0: lifeline; fd 1: discarded; fd 2: bounded tail; fd 3: IPC (parent → child only); fd 4: messages.
      stdio: ['pipe', 'ignore', 'pipe', 'ipc', 'pipe'],
      serialization: 'json',
    });
  } catch (err) {
    supervisor.finish({ code: null, signal: null, stderrTail: '', reason: `the child process could not be started: ${String(err)}` });
    return;
  }

  const pid = child.pid;
  let reaped = false;
  let exitInfo: { code: number | null; signal: string | null } = { code: null, signal: null };
  let drainTimer: NodeJS.Timeout | undefined;
  const messages = child.stdio[MESSAGE_FD] as Readable | null;

  const killGroup = (sig: NodeJS.Signals): void => {
    // Once reaped, the group id may in principle be reused: never signal it after that.
    if (pid === undefined || reaped) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // ESRCH: the whole group is already gone.
    }
  };

  let finished = false;
  const finish = (reason?: string): void => {
    if (finished) return;
    finished = true;
    if (drainTimer) clearTimeout(drainTimer);
    child.stdin?.destroy();
    child.stderr?.destroy();
    messages?.destroy();
    if (child.connected) child.disconnect();
    child.removeAllListeners();
    child.on('error', noop);
    supervisor.finish({ ...exitInfo, stderrTail: stderr.text(), ...(reason ? { reason } : {}) });
  };

  // Every stream of a dying child can report EPIPE/ECONNRESET; none of that may reach the runner
  // as an uncaught error.
  child.stdin?.on('error', noop);
  child.stderr?.on('error', noop);
  messages?.on('error', noop);

  child.on('error', (err) => {
    // Also emitted for failed signals and sends, which are handled where they happen.
    if (pid === undefined) finish(`the child process could not be started: ${err.message}`);
  });
  // Not the child's 'close' event: Node never emits it once the parent has disconnected the IPC
  // channel itself. What matters is that the two pipes we read are drained.
  let openPipes = [child.stderr, messages].filter((s) => s !== null).length;
  const pipeClosed = (): void => {
    openPipes -= 1;
    if (openPipes === 0 && reaped) finish();
  };
  child.stderr?.once('close', pipeClosed);
  messages?.once('close', pipeClosed);
  child.once('exit', (code, signal) => {
    exitInfo = { code, signal };
    // The child is gone; anything it started is not. Finish them before the group id is released.
    killGroup('SIGKILL');
    reaped = true;
    if (openPipes === 0) finish();
    else drainTimer = setTimeout(() => finish(), PIPE_DRAIN_MS);
  });

  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));

  const splitter = new BoundedLineSplitter(params.maxOutputBytes + MESSAGE_OVERHEAD_BYTES);
  messages?.on('data', (chunk: Buffer) => {
    const lines = splitter.push(chunk);
    if (lines === 'overflow') {
      messages.destroy();
      supervisor.violation('the child sent a message larger than the limit');
      return;
    }
    for (const line of lines) supervisor.receive(line);
  });

  // The IPC channel is for the parent's single `run` message. Anything the child sends on it is a
  // protocol violation (and Node would buffer it without bound, which is why it is closed early).
  child.on('message', () => supervisor.violation('the child wrote to the IPC channel'));

  supervisor.attach({
    stop: () => killGroup('SIGTERM'),
    kill: () => killGroup('SIGKILL'),
    sendRun: () => {
      try {
        child.send({ kind: 'run', job: params.job }, (err) => {
          if (err) supervisor.violation('the job could not be sent to the child');
          else if (child.connected) child.disconnect();
        });
      } catch {
        // json serialisation of the input failed (BigInt, cycle): the child can never be sent it.
        supervisor.violation('the job input could not be serialised');
      }
    },
  });
}
