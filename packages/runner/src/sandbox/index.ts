export {
  defineHandler,
  handlersFromModule,
  handlerTypes,
  isNonRetryableError,
  NonRetryableError,
  HANDLER_LOG_LEVELS,
  type HandlerContext,
  type HandlerDefinition,
  type HandlerIsolation,
  type HandlerLogLevel,
  type HandlerOptions,
  type HandlerRun,
  type JsonSchemaObject,
} from '../handler.js';
export { runJobInSandbox, DEFAULT_KILL_GRACE_MS, SANDBOX_BASE_ENV_VARS, type RunJobInSandboxOptions } from './run-job.js';
export type { SandboxOutcome, SandboxFailureCode, SandboxDiagnostics } from './outcome.js';
export { DEFAULT_MAX_OUTPUT_BYTES, type SandboxJob } from './protocol.js';
