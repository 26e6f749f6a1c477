/** Stable codes for PKI failures; callers branch on these, never on message text. */
export const PKI_ERROR_CODES = [
  'SPIFFE_ID_INVALID',
  'TRUST_DOMAIN_MISMATCH',
  'CERTIFICATE_INVALID',
  'CERTIFICATE_REQUEST_INVALID',
  'CERTIFICATE_REQUEST_SIGNATURE_INVALID',
  'KEY_INVALID',
  'KEY_ALGORITHM_UNSUPPORTED',
  'KEY_MISMATCH',
  'CA_INVALID',
  'CA_NOT_FOUND',
  'PKI_ALREADY_EXISTS',
  'ISSUANCE_PARAMETERS_INVALID',
] as const;

export type PkiErrorCode = (typeof PKI_ERROR_CODES)[number];

export class PkiError extends Error {
  constructor(
    readonly code: PkiErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PkiError';
  }
}
