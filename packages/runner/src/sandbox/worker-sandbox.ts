// Runs one job in a worker thread (isolation: 'worker'). Cheaper to start than a process, but a
// weaker boundary: the thread shares the runner's process, file descriptors and native memory, so
// it suits trusted, CPU-bound handlers. The heap limit and the environment are still its own.
import { Worker } from 'node:worker_threads';
import type { JobSupervisor } from './job-supervisor.js';
import { BoundedTail } from './outcome.js';
import { MESSAGE_OVERHEAD_BYTES, type SandboxJob } from './protocol.js';

export interface WorkerSandboxParams {
  workerEntry: URL;
  handlersModule: string;
  job: SandboxJob;
  memoryLimitMb: number;
  maxOutputBytes: number;
  env: Record<string, string>;
  supervisor: JobSupervisor;
}

const STDERR_TAIL_BYTES = 8 * 1024;

export function runInWorker(params: WorkerSandboxParams): void {
  const { supervisor } = params;
  const stderr = new BoundedTail(STDERR_TAIL_BYTES);
  const maxMessageBytes = params.maxOutputBytes + MESSAGE_OVERHEAD_BYTES;
  let worker: Worker;
  try {
    worker = new Worker(params.workerEntry, {
      workerData: { handlersModule: params.handlersModule, job: params.job, maxOutputBytes: params.maxOutputBytes },
      // A copy, not SHARE_ENV: the thread sees only the sandbox environment and its changes stay its own.
      env: params.env,
      resourceLimits: { maxOldGenerationSizeMb: params.memoryLimitMb },
      execArgv: [],
      argv: [],
      // Captured rather than forwarded to the runner's own stdout/stderr.
      stdout: true,
      stderr: true,
    });
  } catch (err) {
    supervisor.finish({ code: null, signal: null, stderrTail: '', reason: `the worker could not be started: ${String(err)}` });
    return;
  }

  let outOfMemory = false;
  let crashReason: string | undefined;
  const terminate = (): void => {
    worker.terminate().catch(() => undefined);
  };

  worker.stdout.resume();
  worker.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  worker.on('message', (message: unknown) => {
    // Checked before decoding; the thread's heap limit already bounds how large it can build one.
    if (typeof message !== 'string' || Buffer.byteLength(message) > maxMessageBytes) {
      supervisor.violation('the worker sent a message that is not a string within the size limit');
      return;
    }
    supervisor.receive(message);
  });
  worker.on('messageerror', () => supervisor.violation('the worker sent a message that could not be deserialised'));
  worker.on('error', (err: Error & { code?: string }) => {
    if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') outOfMemory = true;
    else crashReason = `uncaught ${err.name} in the worker`;
  });
  worker.once('exit', (code) => {
    worker.removeAllListeners();
    worker.on('error', () => undefined);
    worker.stderr.destroy();
    worker.stdout.destroy();
    supervisor.finish({ code, signal: null, stderrTail: stderr.text(), outOfMemory, ...(crashReason ? { reason: crashReason } : {}) });
  });

  supervisor.attach({
    stop: () => {
      try {
        worker.postMessage({ kind: 'stop' });
      } catch {
        // The thread is already gone; the kill that follows is a no-op.
      }
    },
    kill: terminate,
    afterAnswer: terminate,
  });
}
