export { loadTlsMaterial, type LoadTlsMaterialOptions, type TlsMaterial } from './tls-material.js';
export {
  createMtlsAgent,
  mtlsClientOptions,
  mtlsServerOptions,
  type MtlsClientIdentityOptions,
  type MtlsClientOptions,
  type MtlsServerOptions,
} from './mtls-options.js';
export { principalFromCertificate, principalFromSocket, type Principal, type TrustDomainOptions } from './principal.js';
export {
  attachPeerVerification,
  getVerifiedPrincipal,
  type PeerRejection,
  type PeerRejectionReason,
  type PeerVerificationOptions,
} from './peer-verification.js';
