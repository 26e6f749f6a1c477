import { X509Certificate, type KeyObject } from 'node:crypto';
import {
  buildSpiffeId,
  principalFromCertificate,
  verifyJobResult,
  type Principal,
  type ResultSignatureFields,
} from '@controlplane/platform';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Our CA certificate(s), from a PEM string that may hold several (during a CA rotation). */
export function parseTrustAnchors(caCertPem: string): X509Certificate[] {
  const blocks = caCertPem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new Error('truthcore: caCertPem holds no PEM certificate; results cannot be verified without our CA');
  return blocks.map((b) => new X509Certificate(b));
}

/** Issued by one of our CAs: names chain and the CA's key verifies the certificate's signature. */
export function issuedByAnchor(cert: X509Certificate, anchors: readonly X509Certificate[]): boolean {
  return anchors.some((ca) => {
    try {
      return cert.checkIssued(ca) && cert.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
}

export type AttestationFailure =
  | 'certificate-unreadable'
  | 'certificate-untrusted'
  | 'identity-invalid'
  | 'identity-mismatch'
  | 'tenant-mismatch'
  | 'certificate-not-valid-then'
  | 'signature-invalid';

export type Attestation = { ok: true; principal: Principal; certificate: X509Certificate } | { ok: false; reason: AttestationFailure };

export interface AttestationInput {
  certificatePem: string;
  runnerId: string;
  /** When the outcome was recorded: the certificate must have been valid then. */
  at: Date;
  fields: ResultSignatureFields;
  signature: string;
}

/**
 * Decides whether a runner result is attributable: the certificate chains to our CA, names
 * exactly this runner of this tenant (spiffe://<domain>/runner/<id>, subject O = tenant), was
 * valid when the outcome was recorded, and its key made the signature over the outcome. Any
 * "no" refuses the result; the reason is for the log, never for the caller.
 */
/** What is known of a certificate once it has been read and checked against the anchors. */
type CertificateCheck =
  { ok: true; certificate: X509Certificate; principal: Principal; publicKey: KeyObject } | { ok: false; reason: AttestationFailure };

// A runner signs every result with the same certificate for its lifetime: parsing it and checking
// its chain once per certificate, not per result, is most of what attesting a result costs.
const MAX_CHECKED_CERTIFICATES = 1_000;
const checked = new WeakMap<readonly X509Certificate[], Map<string, CertificateCheck>>();

function checkCertificate(pem: string, trust: { trustDomain: string; anchors: readonly X509Certificate[] }): CertificateCheck {
  let cache = checked.get(trust.anchors);
  if (!cache) {
    cache = new Map();
    checked.set(trust.anchors, cache);
  }
  const key = `${trust.trustDomain}\n${pem}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const result = readCertificate(pem, trust);
  if (cache.size >= MAX_CHECKED_CERTIFICATES) cache.clear();
  cache.set(key, result);
  return result;
}

function readCertificate(pem: string, trust: { trustDomain: string; anchors: readonly X509Certificate[] }): CertificateCheck {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  // One leaf only: with a bundle, which certificate "the runner's" is would be ambiguous.
  if (blocks.length !== 1) return { ok: false, reason: 'certificate-unreadable' };
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(blocks[0] as string);
  } catch {
    return { ok: false, reason: 'certificate-unreadable' };
  }
  if (!issuedByAnchor(certificate, trust.anchors)) return { ok: false, reason: 'certificate-untrusted' };
  try {
    const principal = principalFromCertificate(certificate, { trustDomain: trust.trustDomain });
    // One key object per certificate: batch signatures are remembered per key object.
    return { ok: true, certificate, principal, publicKey: certificate.publicKey };
  } catch {
    return { ok: false, reason: 'identity-invalid' };
  }
}

/**
 * Decides whether a runner result is attributable: the certificate chains to our CA, names
 * exactly this runner of this tenant (spiffe://<domain>/runner/<id>, subject O = tenant), was
 * valid when the outcome was recorded, and its key made the signature over the outcome. Any
 * "no" refuses the result; the reason is for the log, never for the caller.
 */
export function attestRunnerResult(
  input: AttestationInput,
  trust: { trustDomain: string; anchors: readonly X509Certificate[] },
): Attestation {
  const cert = checkCertificate(input.certificatePem, trust);
  if (!cert.ok) return cert;
  const { certificate, principal, publicKey } = cert;
  let expected: string;
  try {
    expected = buildSpiffeId(trust.trustDomain, 'runner', input.runnerId);
  } catch {
    return { ok: false, reason: 'identity-invalid' };
  }
  if (principal.kind !== 'runner' || principal.spiffeId !== expected) return { ok: false, reason: 'identity-mismatch' };
  if (principal.tenantId !== input.fields.tenantId) return { ok: false, reason: 'tenant-mismatch' };
  const t = input.at.getTime();
  if (!(Date.parse(certificate.validFrom) <= t && t <= Date.parse(certificate.validTo)))
    return { ok: false, reason: 'certificate-not-valid-then' };
  if (!verifyJobResult(input.fields, publicKey, input.signature)) return { ok: false, reason: 'signature-invalid' };
  return { ok: true, principal, certificate };
}
