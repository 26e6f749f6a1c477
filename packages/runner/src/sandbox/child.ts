// Entry point of a sandbox child process (see protocol.ts for the channels). Started by
// process-sandbox.ts as: node --max-old-space-size=N child.js <handlersModuleUrl> <maxOutputBytes>
import { Socket } from 'node:net';
import { runJobInChild } from './child-runtime.js';
import { decodeParentMessage, encode, MESSAGE_FD } from './protocol.js';

const [handlersModule = '', maxOutputArg = ''] = process.argv.slice(2);
const maxOutputBytes = Number(maxOutputArg);

const out = new Socket({ fd: MESSAGE_FD, readable: false, writable: true });
// If the parent has gone, there is nobody to answer: end the whole group (grandchildren too).
out.on('error', () => dieWithGroup());

function dieWithGroup(): never {
  try {
    process.kill(0, 'SIGKILL');
  } catch {
    // Not a group leader (should not happen when started detached): at least end this process.
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

const controller = new AbortController();
let started = false;

// The parent's polite stop (timeout or cancellation). It follows up with SIGKILL after its grace
// period, so a handler that ignores the signal gains nothing.
process.on('SIGTERM', () => {
  if (!started) process.exit(143);
  controller.abort(new Error('The job was asked to stop.'));
});

process.once('message', (raw: unknown) => {
  const message = decodeParentMessage(raw);
  if (message?.kind !== 'run') {
    process.stderr.write('sandbox child: first message was not a valid run message\n');
    process.exit(70);
  }
  started = true;
  void runJobInChild({
    handlersModule,
    job: message.job,
    signal: controller.signal,
    maxOutputBytes,
    send,
    diagnose: (text) => process.stderr.write(`${text}\n`),
  }).then((finalLine) => {
    // Exit only once the answer is flushed; exiting explicitly also ends any timers or sockets the
    // handler left behind, which would otherwise keep the process (and the job slot) alive.
    out.write(`${finalLine}\n`, () => process.exit(0));
  });
});

// Sent only after the 'message' listener exists: an ESM entry is evaluated asynchronously, and an
// IPC message that arrived before the listener would be dropped.
send(encode({ kind: 'ready' }));
