export { SPIFFE_KINDS, assertTrustDomain, buildSpiffeId, isSpiffeKind, parseSpiffeId, type SpiffeId, type SpiffeKind } from './spiffe.js';
export { DEFAULT_KEY_ALGORITHM, KEY_ALGORITHMS, isKeyAlgorithm, type KeyAlgorithm } from './key-algorithms.js';
export {
  DEFAULT_CA_VALIDITY_DAYS,
  DEFAULT_LEAF_VALIDITY_MS,
  createCertificateAuthority,
  issueCertificate,
  type CertificateAuthority,
  type CreateCertificateAuthorityOptions,
  type IssueCertificateOptions,
  type IssuedCertificate,
} from './certificate-authority.js';
export {
  createKeyPairAndCsr,
  signCsr,
  type CreateKeyPairAndCsrOptions,
  type KeyPairAndCsr,
  type SignCsrOptions,
  type SignedCsr,
} from './csr.js';
export {
  CA_CERT_FILE,
  CA_KEY_FILE,
  DEFAULT_PKI_HOSTS,
  DEFAULT_PKI_SERVICES,
  DEFAULT_SERVICE_VALIDITY_DAYS,
  initPki,
  loadCertificateAuthority,
  servicePkiFiles,
  type InitPkiOptions,
  type InitPkiResult,
  type LoadedCertificateAuthority,
  type TlsFiles,
} from './pki-dir.js';
export { inspectCertificate, type CertificateSummary } from './inspect-certificate.js';
