/** Stable codes for mTLS configuration and peer-identity failures. */
export const TLS_ERROR_CODES = [
  // start-up: the process's own material
  'TLS_FILE_MISSING',
  'TLS_FILE_UNREADABLE',
  'TLS_CA_INVALID',
  'TLS_CERT_INVALID',
  'TLS_KEY_INVALID',
  'TLS_KEY_MISMATCH',
  'TLS_CERT_NOT_ISSUED_BY_CA',
  'TLS_CERT_EXPIRED',
  'TLS_CERT_NOT_YET_VALID',
  'TLS_IDENTITY_INVALID',
  // per connection: the peer
  'PEER_NOT_AUTHORIZED',
  'PEER_CERTIFICATE_MISSING',
  'PEER_IDENTITY_INVALID',
  'PEER_TRUST_DOMAIN_MISMATCH',
  'PEER_IDENTITY_REJECTED',
] as const;

export type TlsErrorCode = (typeof TLS_ERROR_CODES)[number];

export class TlsError extends Error {
  constructor(
    readonly code: TlsErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TlsError';
  }
}
