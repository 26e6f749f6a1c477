// What runs inside the sandbox (child process or worker thread): load the handlers module, pick the
// handler for the job's type, run it, and turn whatever happens into one final message.
import { handlersFromModule, type HandlerContext, type HandlerLogLevel, HANDLER_LOG_LEVELS, isNonRetryableError } from '../handler.js';
import {
  encode,
  MAX_ERROR_MESSAGE_CHARS,
  MAX_LOG_MESSAGE_CHARS,
  MAX_PROGRESS_MESSAGE_CHARS,
  type SandboxJob,
  truncate,
} from './protocol.js';

export interface ChildRunParams {
  handlersModule: string;
  job: SandboxJob;
  signal: AbortSignal;
  maxOutputBytes: number;
  /** Sends an intermediate (progress/log) message, already encoded. */
  send(line: string): void;
  /** Where details that must not reach the job's public error go (the parent keeps a bounded tail). */
  diagnose(text: string): void;
}

function errorLine(message: string, retryable: boolean): string {
  return encode({ kind: 'error', message: truncate(message, MAX_ERROR_MESSAGE_CHARS), retryable });
}

/** The public text of a thrown value: its message only, never its stack. */
function describeThrown(err: unknown): string {
  try {
    if (err instanceof Error) return String(err.message) || err.name || 'The handler failed.';
    if (typeof err === 'string' && err.length > 0) return err;
  } catch {
    // Getters on a thrown object are handler code too and may throw.
  }
  return 'The handler failed with a value that is not an Error.';
}

function makeContext(params: ChildRunParams): HandlerContext {
  const { job, signal, send } = params;
  return Object.freeze({
    jobId: job.id,
    attempt: job.attempt,
    type: job.type,
    correlationId: job.correlationId,
    signal,
    progress(pct: number, message?: string): void {
      const n = Number(pct);
      if (!Number.isFinite(n)) return;
      const clamped = Math.min(100, Math.max(0, n));
      send(
        encode(
          message === undefined
            ? { kind: 'progress', pct: clamped }
            : { kind: 'progress', pct: clamped, message: truncate(String(message), MAX_PROGRESS_MESSAGE_CHARS) },
        ),
      );
    },
    log(level: HandlerLogLevel, message: string): void {
      const lvl = HANDLER_LOG_LEVELS.includes(level) ? level : 'info';
      send(encode({ kind: 'log', level: lvl, message: truncate(String(message), MAX_LOG_MESSAGE_CHARS) }));
    },
  });
}

/** Runs the job and returns the final `result` or `error` message, encoded. Never throws. */
export async function runJobInChild(params: ChildRunParams): Promise<string> {
  let namespace: unknown;
  try {
    namespace = await import(params.handlersModule);
  } catch (err) {
    params.diagnose(`handlers module failed to load: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    // A deployment problem on this runner, not a property of the job: another attempt may succeed.
    return errorLine('The handlers module could not be loaded.', true);
  }

  let handlers;
  try {
    handlers = handlersFromModule(namespace);
  } catch (err) {
    params.diagnose(`handlers module is invalid: ${describeThrown(err)}`);
    return errorLine(`The handlers module is invalid: ${describeThrown(err)}`, false);
  }

  const handler = handlers.get(params.job.type);
  if (!handler) return errorLine(`No handler is registered for job type ${JSON.stringify(truncate(params.job.type, 200))}.`, false);

  let output: unknown;
  try {
    output = await handler.run(params.job.input, makeContext(params));
  } catch (err) {
    return errorLine(describeThrown(err), !isNonRetryableError(err));
  }

  let json: string | undefined;
  try {
    json = JSON.stringify(output === undefined ? null : output);
  } catch {
    return errorLine('The handler output is not JSON-serialisable.', false);
  }
  if (json === undefined) return errorLine('The handler output is not JSON-serialisable.', false);
  if (Buffer.byteLength(json) > params.maxOutputBytes) {
    return errorLine(`The handler output is larger than ${params.maxOutputBytes} bytes.`, false);
  }
  // Spliced rather than re-stringified: the output may be megabytes and is already encoded.
  return `{"kind":"result","output":${json}}`;
}
