import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { InternalError } from '@controlplane/contracts';
import { certificateFields } from './certificate-fields.js';
import { normalizeSerialNumber } from './key-algorithms.js';
import { parseTrustDomainId } from './spiffe.js';

export interface CertificateSummary {
  /** RFC 4514-style, e.g. `CN=runner:r1, O=tenant-a, OU=gpu`. */
  readonly subject: string;
  readonly issuer: string;
  /** The certificate's spiffe:// URI SAN (for a CA, its trust domain id `spiffe://<domain>`). */
  readonly spiffeId: string | undefined;
  readonly trustDomain: string | undefined;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Upper-case hex, the same form as `Principal.serialNumber`. */
  readonly serialNumber: string;
  /** `AB:CD:…`, the same form as Node's `X509Certificate.fingerprint256`. */
  readonly fingerprint256: string;
  readonly isCa: boolean;
}

const FIRST_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

/** Reads the first certificate of a PEM text, for `doctor` and operators. */
export function inspectCertificate(pem: string): CertificateSummary {
  const block = FIRST_CERTIFICATE.exec(pem)?.[0];
  if (!block) throw new InternalError('CP_PKI_CERTIFICATE_NOT_PEM');
  let node: NodeX509Certificate;
  try {
    node = new NodeX509Certificate(block);
  } catch (err) {
    throw new InternalError('CP_PKI_CERTIFICATE_UNREADABLE', { cause: err });
  }
  const fields = certificateFields(new Uint8Array(node.raw));
  const spiffeUris = fields.uris.filter((u) => u.startsWith('spiffe://'));
  const spiffeId = spiffeUris.length === 1 ? spiffeUris[0] : undefined;
  let trustDomain: string | undefined;
  if (spiffeId !== undefined) {
    const afterScheme = spiffeId.slice('spiffe://'.length);
    trustDomain = parseTrustDomainId(`spiffe://${afterScheme.split('/')[0] ?? ''}`);
  }
  return {
    subject: fields.cert.subject,
    issuer: fields.cert.issuer,
    spiffeId,
    trustDomain,
    dnsNames: fields.dnsNames,
    ipAddresses: fields.ipAddresses,
    notBefore: fields.cert.notBefore,
    notAfter: fields.cert.notAfter,
    serialNumber: normalizeSerialNumber(node.serialNumber),
    fingerprint256: node.fingerprint256,
    isCa: fields.isCa,
  };
}
