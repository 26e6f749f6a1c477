export * from './sandbox/index.js';
export { RunnerAgent, type RunnerAgentOptions } from './agent.js';
export { enrollRunner, type EnrollOptions } from './enroll.js';
export { loadRunnerIdentity, saveRunnerIdentity, RUNNER_FILES, type RunnerIdentityMeta } from './identity.js';
export { JobforgeClient } from './jobforge-client.js';
export { INTAKE_MODES, type IntakeMode } from './work-intake.js';
export { RunnerMetrics, startMetricsServer } from './metrics.js';
export { checkEnvelopeBatch, envelopeFields, type RefusedEnvelope } from './envelope-check.js';
export { DEMO_HANDLERS_MODULE } from './demo.js';
