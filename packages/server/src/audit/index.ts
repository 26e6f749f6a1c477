export { type AuditEvent, type AuditSink } from './audit-event.js';
export {
  appendAuditEvent,
  AUDIT_ACTOR_KINDS,
  AUDIT_GENESIS_HASH,
  AUDIT_HASH_DOMAIN,
  AUDIT_OUTCOMES,
  AuditLog,
  auditHashInput,
  computeAuditHash,
  type AuditActorKind,
  type AuditOutcome,
  type AuditRecord,
} from './audit-chain.js';
export {
  AuditChainVerifier,
  verifyAuditChain,
  type AuditAnchor,
  type AuditChainBreak,
  type AuditChainFailure,
  type AuditChainVerifierOptions,
  type AuditVerifyResult,
  type VerifyAuditOptions,
} from './audit-verify.js';
export {
  AUDIT_QUERY_MAX_LIMIT,
  exportAudit,
  queryAudit,
  type AuditExportFilter,
  type AuditExportResult,
  type AuditPage,
  type AuditQuery,
} from './audit-query.js';
export { redactAuditDetails, REDACTED as AUDIT_REDACTED } from './redaction.js';
export {
  AUDIT_CHECKPOINT_ACTION,
  AUDIT_CHECKPOINT_FORMAT,
  assertCheckpointDirWritable,
  checkpointFileName,
  readCheckpoints,
  signCheckpoint,
  writeCheckpointFile,
  type AuditCheckpoint,
  type AuditCheckpointBody,
  type CheckpointReading,
  type CheckpointSigner,
} from './audit-checkpoint.js';
export { AuditCheckpointer, type AuditCheckpointerOptions } from './audit-checkpointer.js';
export { verifyAuditWithCheckpoints, type CheckpointVerifyOptions, type CheckpointVerifyResult } from './audit-checkpoint-verify.js';
