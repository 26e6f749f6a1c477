export { PostgresDataKeyStore, type DataKeySummary } from './data-key-store.js';
export { ReloadingKeyProvider, type ReloadingKeyProviderOptions } from './reloading-key-provider.js';
export { openFieldEncryption, type FieldEncryption, type FieldEncryptionOptions } from './field-encryption.js';
export { KeyRotation, DEFAULT_ROTATION_GRACE_MS, type KeyRotationOptions, type RotationStep } from './key-rotation.js';
export { type RotationRun } from './rotation-runs.js';
export { SWEEP_PHASES, type StoredValueCheck } from './encrypted-value-sweep.js';
export {
  ENCRYPTED_TABLES,
  JOB_REQUEST_SLOTS,
  JOB_RESULT_SLOTS,
  JOB_ERROR_SLOTS,
  JOB_EVENT_SLOTS,
  PROVENANCE_RESULT_SLOTS,
  PROVENANCE_EVIDENCE_SLOTS,
  ASSERTION_OBJECT_INDEX_SCOPE,
  attemptRowId,
  isSensitiveAssertion,
  sealSlots,
  openSlots,
  resealSlots,
  type EncryptedSlot,
  type EncryptedTable,
  type EncryptedColumn,
  type RowRef,
} from './encrypted-fields.js';
