import { InternalError } from '@controlplane/contracts';
import { openCertificateAuthority, signLeaf, type CertificateAuthority } from './certificate-authority.js';
import {
  assertKeyAlgorithm,
  assertSupportedPublicKey,
  exportPrivateKeyPem,
  generateKeyPair,
  signingAlgorithm,
  type KeyAlgorithm,
} from './key-algorithms.js';
import { x509 } from './x509.js';

export interface CreateKeyPairAndCsrOptions {
  /** Informational only: the CA ignores the requested subject and decides identity itself. */
  readonly commonName: string;
  /** Default ECDSA-P256. */
  readonly algorithm?: KeyAlgorithm;
}

export interface KeyPairAndCsr {
  /** PKCS#8 PEM. Stays with the caller: only the CSR is sent to the CA. */
  readonly keyPem: string;
  readonly csrPem: string;
}

export interface SignCsrOptions {
  /** The identity the server decided on; the CSR's own subject and SANs are ignored. */
  readonly spiffeId: string;
  readonly validityMs: number;
  readonly tenantId?: string;
  readonly pool?: string;
}

export interface SignedCsr {
  readonly certPem: string;
  readonly serialNumber: string;
  readonly notAfter: Date;
}

// A CSR is untrusted input from the network; bound it before handing it to an ASN.1 parser.
const MAX_CSR_PEM_LENGTH = 16 * 1024;

export async function createKeyPairAndCsr(options: CreateKeyPairAndCsrOptions): Promise<KeyPairAndCsr> {
  const algorithm = assertKeyAlgorithm(options.algorithm);
  const keys = await generateKeyPair(algorithm);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [options.commonName] }],
    keys,
    signingAlgorithm: signingAlgorithm(algorithm),
  });
  return { keyPem: await exportPrivateKeyPem(keys.privateKey), csrPem: csr.toString('pem') + '\n' };
}

/**
 * Server side of enrolment: proves the requester holds the private key (the CSR's signature),
 * then certifies that key under the identity the server chose.
 */
export async function signCsr(ca: CertificateAuthority, csrPem: string, options: SignCsrOptions): Promise<SignedCsr> {
  if (typeof csrPem !== 'string' || csrPem.length > MAX_CSR_PEM_LENGTH || !csrPem.includes('-----BEGIN CERTIFICATE REQUEST-----')) {
    throw new InternalError('CP_PKI_CSR_NOT_PEM');
  }
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new InternalError('CP_PKI_CSR_UNREADABLE', { cause: err });
  }
  assertSupportedPublicKey(csr.publicKey);
  let verified = false;
  try {
    verified = await csr.verify();
  } catch (err) {
    throw new InternalError('CP_PKI_CSR_SIGNATURE_INVALID', { cause: err });
  }
  if (!verified) {
    throw new InternalError('CP_PKI_CSR_SIGNATURE_INVALID');
  }
  const opened = await openCertificateAuthority(ca);
  // Only the public key is taken from the CSR: subject, requested extensions and SANs are dropped.
  const { cert, serialNumber } = await signLeaf(opened, {
    spiffeId: options.spiffeId,
    publicKey: csr.publicKey,
    validityMs: options.validityMs,
    tenantId: options.tenantId,
    pool: options.pool,
  });
  return { certPem: cert.toString('pem') + '\n', serialNumber, notAfter: cert.notAfter };
}
