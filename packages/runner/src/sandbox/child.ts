// Entry point of a sandbox child process (see protocol.ts for the channels). Started (directly, or
// inside bubblewrap) as: node [flags] child.js <handlersModuleUrl> <maxOutputBytes>
// It runs jobs one at a time for as long as the runner keeps it; between jobs it puts back the
// environment and working directory it started with, so a job that changed them leaves nothing
// for the next one.
import { Socket } from 'node:net';
import { runJobInChild } from './child-runtime.js';
import { decodeParentMessage, encode, JOBS_FD, MESSAGE_FD, type SandboxJob } from './protocol.js';

const [handlersModule = '', maxOutputArg = ''] = process.argv.slice(2);
const maxOutputBytes = Number(maxOutputArg);
const MAX_JOB_LINE_BYTES = 1024 * 1024 * 1024;

const out = new Socket({ fd: MESSAGE_FD, readable: false, writable: true });
// If the parent has gone, there is nobody to answer: end the whole group (grandchildren too).
out.on('error', () => dieWithGroup());

function dieWithGroup(): never {
  try {
    process.kill(0, 'SIGKILL');
  } catch {
    // Not a group leader (inside bubblewrap the namespace dies with us anyway): end this process.
  }
  process.exit(1);
}

function send(line: string): void {
  out.write(`${line}\n`);
}

// The lifeline: the parent holds the write end of stdin and never writes. End-of-file means the
// runner died, and a detached child would otherwise run on as an orphan.
process.stdin.on('data', () => undefined);
process.stdin.once('end', dieWithGroup);
process.stdin.once('error', dieWithGroup);

/* eslint-disable no-restricted-properties -- this process is a sandbox, not the runner: it reads no
   configuration, it puts back its own environment between jobs. */
// bubblewrap sets PWD whatever it is told; it is no variable the sandbox was given.
delete process.env.PWD;
const startEnv = { ...process.env };
const startDir = process.cwd();

/** Puts back what a job may have changed in the process's own settings. */
function resetProcess(): void {
  for (const name of Object.keys(process.env)) if (!(name in startEnv)) delete process.env[name];
  for (const [name, value] of Object.entries(startEnv)) if (value !== undefined) process.env[name] = value;
  try {
    process.chdir(startDir);
  } catch {
    // The directory was removed under us: the next job runs where it is.
  }
  process.exitCode = undefined;
}
/* eslint-enable no-restricted-properties */

let current: AbortController | undefined;
const queue: SandboxJob[] = [];
let running = false;

async function runNext(): Promise<void> {
  if (running) return;
  running = true;
  for (let job = queue.shift(); job; job = queue.shift()) {
    const controller = new AbortController();
    current = controller;
    const finalLine = await runJobInChild({
      handlersModule,
      job,
      signal: controller.signal,
      maxOutputBytes,
      send: (line) => {
        // A handler's leftover callbacks must not speak for a job that has ended.
        if (current === controller) send(line);
      },
      diagnose: (text) => process.stderr.write(`${text}\n`),
    });
    current = undefined;
    send(finalLine);
    resetProcess();
    send(encode({ kind: 'idle', heapUsedMb: Math.round((process.memoryUsage().heapUsed / 1048576) * 10) / 10 }));
  }
  running = false;
}

function handle(line: string): void {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    raw = undefined;
  }
  const message = decodeParentMessage(raw);
  if (!message) {
    process.stderr.write('sandbox child: the runner sent a message that is not valid\n');
    process.exit(70);
  }
  if (message.kind === 'stop') {
    // The runner's polite stop (timeout or cancellation). It follows up by killing the process
    // after its grace period, so a handler that ignores the signal gains nothing.
    current?.abort(new Error('The job was asked to stop.'));
    return;
  }
  queue.push(message.job);
  void runNext();
}

const jobs = new Socket({ fd: JOBS_FD, readable: true, writable: false });
let pending = '';
jobs.setEncoding('utf8');
jobs.on('data', (chunk: string) => {
  pending += chunk;
  if (pending.length > MAX_JOB_LINE_BYTES) dieWithGroup();
  for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (line.length > 0) handle(line);
  }
});
// The runner closed the job pipe: no more work for this process.
jobs.once('end', () => process.exit(0));
jobs.on('error', dieWithGroup);

// The handlers module is loaded before the process says it is ready, so that no job waits for it.
// A module that fails to load is not an error here: every job then answers with that failure.
import(handlersModule).then(
  () => send(encode({ kind: 'ready' })),
  () => send(encode({ kind: 'ready' })),
);
