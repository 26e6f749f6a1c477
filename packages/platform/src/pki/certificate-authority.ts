import { createPublicKey, type KeyObject, type webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { InternalError } from '@controlplane/contracts';
import { certificateFields } from './certificate-fields.js';
import {
  assertKeyAlgorithm,
  assertSupportedPublicKey,
  exportPrivateKeyPem,
  generateKeyPair,
  importSigningKey,
  randomSerialNumber,
  signingAlgorithm,
  toX509PublicKey,
  type KeyAlgorithm,
} from './key-algorithms.js';
import { assertTrustDomain, parseSpiffeId, parseTrustDomainId, trustDomainId } from './spiffe.js';
import { x509 } from './x509.js';

/** A CA as PEM text: what `initPki` writes and `loadCertificateAuthority` reads back. */
export interface CertificateAuthority {
  readonly certPem: string;
  readonly keyPem: string;
}

export interface CreateCertificateAuthorityOptions {
  readonly trustDomain: string;
  /** Default ECDSA-P256. */
  readonly algorithm?: KeyAlgorithm;
  /** Default 3650 (ten years). */
  readonly validityDays?: number;
}

export interface IssueCertificateOptions {
  /** The only identity in the certificate: its single URI SAN. Must be in the CA's trust domain. */
  readonly spiffeId: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** Default: five minutes ago, to tolerate clock skew between hosts. */
  readonly notBefore?: Date;
  /** Absolute end of validity; wins over `validityMs`. */
  readonly notAfter?: Date;
  /** Validity counted from now. Default 24 hours. */
  readonly validityMs?: number;
  /** Written as the subject O (runner certificates). */
  readonly tenantId?: string;
  /** Written as the subject OU (runner certificates). */
  readonly pool?: string;
  /** SPKI PEM or a Node key object. When absent a key pair is generated and its private key returned. */
  readonly publicKey?: string | KeyObject;
  /** Algorithm of a generated key pair. Default: the CA's. */
  readonly algorithm?: KeyAlgorithm;
}

export interface IssuedCertificate {
  readonly certPem: string;
  /** PKCS#8 PEM; only when the key pair was generated here. */
  readonly keyPem?: string;
  /** Upper-case hex, as Node's X509Certificate prints it. */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const CLOCK_SKEW_MS = 5 * 60 * 1000;
export const DEFAULT_CA_VALIDITY_DAYS = 3650;
export const DEFAULT_LEAF_VALIDITY_MS = DAY_MS;

// Tenant and pool end up in the subject DN and in authorisation decisions; keep them to
// identifier characters so no DN escaping or look-alike tricks are possible.
const SUBJECT_VALUE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const DNS_NAME = /^(?=.{1,253}$)(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Parameters of a CA or certificate that cannot be issued as asked; `problem` says which and why. */
export function issuanceInvalid(problem: string): InternalError {
  return new InternalError('CP_PKI_ISSUANCE_PARAMETERS_INVALID', { params: { problem } });
}

function caName(trustDomain: string): x509.JsonName {
  return [{ CN: [`ControlPlane CA ${trustDomain}`] }];
}

export async function createCertificateAuthority(options: CreateCertificateAuthorityOptions): Promise<CertificateAuthority> {
  const trustDomain = assertTrustDomain(options.trustDomain);
  const algorithm = assertKeyAlgorithm(options.algorithm);
  const validityDays = options.validityDays ?? DEFAULT_CA_VALIDITY_DAYS;
  if (!Number.isFinite(validityDays) || validityDays <= 0) {
    throw issuanceInvalid('validityDays must be a positive number.');
  }
  const keys = await generateKeyPair(algorithm);
  const notBefore = new Date(Date.now() - CLOCK_SKEW_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber(),
    name: caName(trustDomain),
    notBefore,
    notAfter: new Date(notBefore.getTime() + validityDays * DAY_MS),
    signingAlgorithm: signingAlgorithm(algorithm),
    keys,
    extensions: [
      // pathLen 0: this CA signs leaves only, so a stolen leaf key can never mint certificates.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      // The trust domain travels with the CA, so issuance can refuse ids from another domain.
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: trustDomainId(trustDomain) }]),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/** A CA opened for signing: parsed, checked to be a CA whose key matches, with its trust domain. */
export interface OpenedCertificateAuthority {
  readonly cert: x509.X509Certificate;
  readonly signingKey: webcrypto.CryptoKey;
  readonly algorithm: KeyAlgorithm;
  readonly trustDomain: string;
}

export async function openCertificateAuthority(ca: CertificateAuthority): Promise<OpenedCertificateAuthority> {
  let fields;
  try {
    fields = certificateFields(ca.certPem);
  } catch (err) {
    throw new InternalError('CP_PKI_CA_CERT_UNREADABLE', { cause: err });
  }
  if (!fields.isCa) throw new InternalError('CP_PKI_CA_NOT_A_CA');
  let signing;
  try {
    signing = await importSigningKey(ca.keyPem);
  } catch (err) {
    throw new InternalError('CP_PKI_CA_KEY_UNREADABLE', { cause: err });
  }
  const certSpki = Buffer.from(fields.cert.publicKey.rawData);
  const keySpki = createPublicKey(signing.keyObject).export({ type: 'spki', format: 'der' });
  if (!certSpki.equals(keySpki)) throw new InternalError('CP_PKI_CA_KEY_MISMATCH');
  const domains = fields.uris.map(parseTrustDomainId).filter((d): d is string => d !== undefined);
  if (domains.length !== 1) {
    throw new InternalError('CP_PKI_CA_TRUST_DOMAIN_MISSING');
  }
  return { cert: fields.cert, signingKey: signing.key, algorithm: signing.algorithm, trustDomain: domains[0] as string };
}

export interface LeafParameters {
  readonly spiffeId: string;
  readonly publicKey: x509.PublicKey;
  readonly dnsNames?: readonly string[] | undefined;
  readonly ipAddresses?: readonly string[] | undefined;
  readonly notBefore?: Date | undefined;
  readonly notAfter?: Date | undefined;
  readonly validityMs?: number | undefined;
  readonly tenantId?: string | undefined;
  readonly pool?: string | undefined;
}

function checkSubjectValue(name: string, value: string | undefined): void {
  if (value !== undefined && !SUBJECT_VALUE.test(value)) {
    throw issuanceInvalid(`${name} must be 1-128 characters of letters, digits and . _ : @ - (starting with a letter or digit).`);
  }
}

function validity(ca: OpenedCertificateAuthority, params: LeafParameters): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  const notBefore = params.notBefore ?? new Date(now - CLOCK_SKEW_MS);
  let notAfter: Date;
  if (params.notAfter) {
    notAfter = params.notAfter;
  } else {
    const validityMs = params.validityMs ?? DEFAULT_LEAF_VALIDITY_MS;
    if (!Number.isFinite(validityMs) || validityMs <= 0) throw issuanceInvalid('validityMs must be a positive number.');
    notAfter = new Date(now + validityMs);
  }
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) {
    throw issuanceInvalid('notBefore and notAfter must be valid dates.');
  }
  // A leaf that outlives its CA would be rejected by verifiers after the CA expires anyway;
  // capping makes the real end of validity visible to the caller (e.g. for renewal timing).
  if (notAfter.getTime() > ca.cert.notAfter.getTime()) notAfter = new Date(ca.cert.notAfter.getTime());
  if (notAfter.getTime() <= notBefore.getTime()) throw issuanceInvalid('notAfter must be later than notBefore.');
  return { notBefore, notAfter };
}

/** Issues a leaf whose identity is decided entirely by `params` (never by anything a requester sent). */
export async function signLeaf(
  ca: OpenedCertificateAuthority,
  params: LeafParameters,
): Promise<{ cert: x509.X509Certificate; serialNumber: string }> {
  const id = parseSpiffeId(params.spiffeId);
  if (id.trustDomain !== ca.trustDomain) {
    throw new InternalError('CP_PKI_TRUST_DOMAIN_MISMATCH', { params: { trustDomain: id.trustDomain, caTrustDomain: ca.trustDomain } });
  }
  assertSupportedPublicKey(params.publicKey);
  checkSubjectValue('tenantId', params.tenantId);
  checkSubjectValue('pool', params.pool);
  const dnsNames = [...(params.dnsNames ?? [])];
  const ipAddresses = [...(params.ipAddresses ?? [])];
  for (const dns of dnsNames) {
    if (!DNS_NAME.test(dns)) throw issuanceInvalid(`${JSON.stringify(dns)} is not a valid DNS name.`);
  }
  for (const ip of ipAddresses) {
    if (isIP(ip) === 0) throw issuanceInvalid(`${JSON.stringify(ip)} is not a valid IP address.`);
  }
  const { notBefore, notAfter } = validity(ca, params);

  const subject: x509.JsonName = [{ CN: [`${id.kind}:${id.id}`] }];
  if (params.tenantId !== undefined) subject.push({ O: [params.tenantId] });
  if (params.pool !== undefined) subject.push({ OU: [params.pool] });

  const serialNumber = randomSerialNumber();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject,
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: params.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: signingAlgorithm(ca.algorithm),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'url', value: params.spiffeId },
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(params.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
    ],
  });
  return { cert, serialNumber };
}

export async function issueCertificate(ca: CertificateAuthority, options: IssueCertificateOptions): Promise<IssuedCertificate> {
  const opened = await openCertificateAuthority(ca);
  let publicKey: x509.PublicKey;
  let keyPem: string | undefined;
  if (options.publicKey !== undefined) {
    publicKey = toX509PublicKey(options.publicKey);
  } else {
    const keys = await generateKeyPair(options.algorithm === undefined ? opened.algorithm : assertKeyAlgorithm(options.algorithm));
    publicKey = await x509.PublicKey.create(keys.publicKey);
    keyPem = await exportPrivateKeyPem(keys.privateKey);
  }
  const { cert, serialNumber } = await signLeaf(opened, { ...options, publicKey });
  return {
    certPem: cert.toString('pem') + '\n',
    ...(keyPem !== undefined ? { keyPem } : {}),
    serialNumber,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}
