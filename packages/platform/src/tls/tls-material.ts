import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { TlsFiles } from '../pki/index.js';
import { TlsError } from './errors.js';

/** PEM material for one process's mTLS, checked to be coherent. */
export interface TlsMaterial {
  /** Our CA certificate(s), PEM, one entry per certificate. The only trust anchors used. */
  readonly ca: readonly string[];
  readonly cert: string;
  /** Not enumerable, so logging or serialising the material never prints the private key. */
  readonly key: string;
  readonly certificate: X509Certificate;
  readonly files: TlsFiles;
}

export interface LoadTlsMaterialOptions {
  /** Clock for the validity check; tests only. */
  readonly now?: Date;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function initHint(file: string): string {
  return `Run \`controlplane pki init --dir ${dirname(file)}\` to create a CA and service certificates, or point the TLS settings (tls.caFile / tls.certFile / tls.keyFile) at existing files.`;
}

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new TlsError('TLS_FILE_MISSING', `The ${what} file ${file} does not exist; mTLS cannot start without it. ${initHint(file)}`, {
        cause: err,
      });
    }
    throw new TlsError('TLS_FILE_UNREADABLE', `The ${what} file ${file} cannot be read (${code ?? (err as Error).message}).`, {
      cause: err,
    });
  }
}

function parseCertificates(pem: string, file: string, what: string, code: 'TLS_CA_INVALID' | 'TLS_CERT_INVALID'): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new TlsError(code, `The ${what} file ${file} contains no PEM certificate.`);
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new TlsError(code, `The ${what} file ${file} contains an unreadable certificate.`, { cause: err });
    }
  });
}

/**
 * Reads and cross-checks the CA, certificate and key of an mTLS endpoint. Every problem is a
 * start-up error: a half-configured TLS endpoint must never come up and quietly accept less.
 */
export function loadTlsMaterial(files: Partial<TlsFiles>, options: LoadTlsMaterialOptions = {}): TlsMaterial {
  const missing = (['caFile', 'certFile', 'keyFile'] as const).filter((k) => !files[k]);
  if (missing.length > 0) {
    throw new TlsError(
      'TLS_FILE_MISSING',
      `mTLS needs a CA, a certificate and a key; ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set. Run \`controlplane pki init --dir <dir>\` and set tls.caFile, tls.certFile and tls.keyFile.`,
    );
  }
  const caFile = resolve(files.caFile as string);
  const certFile = resolve(files.certFile as string);
  const keyFile = resolve(files.keyFile as string);

  const caPem = readPem(caFile, 'CA certificate');
  const caCerts = parseCertificates(caPem, caFile, 'CA certificate', 'TLS_CA_INVALID');
  for (const ca of caCerts) {
    if (!ca.ca)
      throw new TlsError('TLS_CA_INVALID', `${caFile} contains a certificate that is not a CA (${ca.subject.replace(/\n/g, ', ')}).`);
  }

  const certPem = readPem(certFile, 'certificate');
  const [certificate] = parseCertificates(certPem, certFile, 'certificate', 'TLS_CERT_INVALID') as [X509Certificate];
  if (certificate.ca) throw new TlsError('TLS_CERT_INVALID', `${certFile} holds a CA certificate; use the service's own certificate.`);

  const keyPem = readPem(keyFile, 'private key');
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new TlsError('TLS_KEY_INVALID', `${keyFile} is not a readable PEM private key.`, { cause: err });
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new TlsError('TLS_KEY_MISMATCH', `The private key ${keyFile} does not belong to the certificate ${certFile}.`);
  }
  if (!caCerts.some((ca) => certificate.checkIssued(ca) && certificate.verify(ca.publicKey))) {
    throw new TlsError(
      'TLS_CERT_NOT_ISSUED_BY_CA',
      `The certificate ${certFile} was not issued by the CA in ${caFile}; peers would refuse it.`,
    );
  }
  const now = (options.now ?? new Date()).getTime();
  const validTo = new Date(certificate.validTo);
  const validFrom = new Date(certificate.validFrom);
  if (validTo.getTime() <= now)
    throw new TlsError('TLS_CERT_EXPIRED', `The certificate ${certFile} expired at ${validTo.toISOString()}; renew it.`);
  if (validFrom.getTime() > now)
    throw new TlsError(
      'TLS_CERT_NOT_YET_VALID',
      `The certificate ${certFile} is not valid before ${validFrom.toISOString()}; check the clock.`,
    );

  const material = {
    ca: caCerts.map((c) => c.toString()),
    cert: certificate.toString(),
    certificate,
    files: { caFile, certFile, keyFile },
  };
  Object.defineProperty(material, 'key', { value: keyPem, enumerable: false });
  return material as unknown as TlsMaterial;
}
