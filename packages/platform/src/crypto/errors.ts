/**
 * Why a field ciphertext was refused. Callers branch on `reason`; the message is for logs and never
 * carries plaintext or key material.
 */
export type DecryptionFailure =
  /** Not a `cpenc:v1:` string, or a part has the wrong encoding or length. */
  | 'MALFORMED'
  /** The data key named in the ciphertext does not exist for this tenant. */
  | 'UNKNOWN_DATA_KEY'
  /** AES-GCM refused it: a changed byte, or the associated data (tenant, table, row, field) differs. */
  | 'AUTHENTICATION_FAILED';

export class DecryptionError extends Error {
  constructor(
    readonly reason: DecryptionFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DecryptionError';
  }
}

/** Stable codes for key-management failures (operator or infrastructure faults, not tampering with a value). */
export const KEYRING_ERROR_CODES = [
  'KEYRING_NOT_FOUND',
  'KEYRING_EXISTS',
  'KEYRING_INSECURE_PERMISSIONS',
  'KEYRING_INVALID',
  'KEK_NOT_FOUND',
  'DATA_KEY_INVALID',
  'DATA_KEY_UNWRAP_FAILED',
] as const;

export type KeyringErrorCode = (typeof KEYRING_ERROR_CODES)[number];

export class KeyringError extends Error {
  constructor(
    readonly code: KeyringErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KeyringError';
  }
}
