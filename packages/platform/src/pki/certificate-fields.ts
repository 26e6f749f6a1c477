import { InternalError } from '@controlplane/contracts';
import { x509 } from './x509.js';

/**
 * Reads the fields identity decisions depend on straight from the DER, through an ASN.1
 * parser, rather than from Node's printed `subject` / `subjectAltName` strings, whose escaping
 * an attacker-chosen value could confuse.
 */
export interface CertificateFields {
  readonly cert: x509.X509Certificate;
  readonly uris: readonly string[];
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly isCa: boolean;
}

/** A certificate whose names are ambiguous or unreadable; `problem` completes "The certificate …". */
function malformed(problem: string, cause?: unknown): InternalError {
  return new InternalError('CP_PKI_CERTIFICATE_MALFORMED', { params: { problem }, cause });
}

export function parseCertificate(input: string | Uint8Array): x509.X509Certificate {
  try {
    // Copy into a fresh ArrayBuffer so a pooled Buffer's neighbouring bytes are never parsed.
    return new x509.X509Certificate(typeof input === 'string' ? input : Uint8Array.from(input));
  } catch (err) {
    throw new InternalError('CP_PKI_CERTIFICATE_UNREADABLE', { cause: err });
  }
}

export function certificateFields(input: string | Uint8Array | x509.X509Certificate): CertificateFields {
  const cert = input instanceof x509.X509Certificate ? input : parseCertificate(input);
  const uris: string[] = [];
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  let sans: x509.SubjectAlternativeNameExtension[];
  try {
    sans = cert.getExtensions(x509.SubjectAlternativeNameExtension);
  } catch (err) {
    throw malformed('has an unreadable subjectAltName extension', err);
  }
  // Two SAN extensions is malformed (RFC 5280 allows one of each extension) and a classic way to
  // make two parsers disagree about identity.
  if (sans.length > 1) throw malformed('has more than one subjectAltName extension');
  for (const name of sans[0]?.names.items ?? []) {
    if (name.type === 'url') uris.push(name.value);
    else if (name.type === 'dns') dnsNames.push(name.value);
    else if (name.type === 'ip') ipAddresses.push(name.value);
  }
  const basic = cert.getExtension(x509.BasicConstraintsExtension);
  return { cert, uris, dnsNames, ipAddresses, isCa: basic?.ca === true };
}

/** The single value of a subject attribute, undefined when absent, an error when repeated. */
export function singleSubjectField(cert: x509.X509Certificate, field: 'CN' | 'O' | 'OU'): string | undefined {
  const values = cert.subjectName.getField(field);
  if (values.length > 1) throw malformed(`subject has more than one ${field}`);
  return values[0];
}
