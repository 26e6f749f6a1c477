// Entry point of a sandbox worker thread (isolation: 'worker'). The job arrives in workerData; the
// answer leaves as one string message on the parent port, in the same encoding as a process child's.
import { parentPort, workerData } from 'node:worker_threads';
import { runJobInChild } from './child-runtime.js';
import { decodeParentMessage } from './protocol.js';

interface WorkerJobData {
  handlersModule: string;
  job: unknown;
  maxOutputBytes: number;
}

const port = parentPort;
const data = workerData as WorkerJobData;
const controller = new AbortController();
const run = decodeParentMessage({ kind: 'run', job: data.job });

if (port && run?.kind === 'run') {
  port.on('message', (raw: unknown) => {
    if (decodeParentMessage(raw)?.kind === 'stop') controller.abort(new Error('The job was asked to stop.'));
  });
  void runJobInChild({
    handlersModule: data.handlersModule,
    job: run.job,
    signal: controller.signal,
    maxOutputBytes: data.maxOutputBytes,
    send: (line) => port.postMessage(line),
    diagnose: (text) => process.stderr.write(`${text}\n`),
  }).then((finalLine) => {
    // The parent terminates the thread when the answer arrives, which also ends whatever the
    // handler left running.
    port.postMessage(finalLine);
  });
} else {
  throw new Error('sandbox worker started without a valid job');
}
