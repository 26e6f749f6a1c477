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
export { BoundedLineSplitter, DEFAULT_MAX_OUTPUT_BYTES, type SandboxJob } from './protocol.js';
export { HandlerSandboxes, type HandlerSandboxesOptions } from './handler-sandboxes.js';
export { SandboxPool, type SandboxPoolOptions, type SandboxPoolStats, type RecycleReason } from './sandbox-pool.js';
export { SandboxProcess, type SandboxProcessOptions, type JobRunOptions } from './sandbox-process.js';
export {
  CONFINEMENT_MODES,
  activeLayers,
  confinementShortfall,
  detectConfinement,
  sandboxCommand,
  type ConfinementLayers,
  type ConfinementMode,
} from './confinement.js';
export { sandboxProcessOptions, sandboxTmpRoot } from './run-job.js';
