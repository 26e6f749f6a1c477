export {
  openDatabaseFromConfig,
  openRedisFromConfig,
  embeddedDatabaseDir,
  postgresConnectionString,
  postgresSsl,
  displayDatabaseUrl,
  type OpenedDatabase,
  type OpenDatabaseOptions,
} from './storage.js';
export {
  pkiDirOf,
  serviceTlsFiles,
  loadServiceMaterial,
  serviceAgent,
  jobforgeCertificateAuthority,
  type ServiceName,
} from './service-tls.js';
export {
  gatewayLimitsFrom,
  startGatewayFromConfig,
  startJobforgeFromConfig,
  startTruthcoreFromConfig,
  startServiceFromConfig,
  type RunningService,
  type ServiceDeps,
} from './services.js';
export { startProcessMetrics, type ProcessMetrics } from './process-metrics.js';
export { ensureDevPki, startSystem, type DevPki, type RunningSystem, type StartSystemOptions } from './system.js';
export { ensureTenant, isApiKeyUsable, createBootstrapAdminKey } from './bootstrap.js';
export {
  DEV_KEYRING_FILE,
  STORED_IN_CLEAR,
  ensureDevKeyring,
  requiredKeyringFile,
  openCipherFromConfig,
  type DevKeyring,
  type OpenedCipher,
} from './encryption.js';
export { auditCheckpointDirOf, startAuditCheckpoints, CHECKPOINTS_FAILING } from './audit-anchor.js';
