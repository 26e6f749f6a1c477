import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InternalError } from '@controlplane/contracts';
import type { TlsFiles } from '../pki/index.js';

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

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new InternalError('CP_TLS_FILE_MISSING', { params: { what, file, dir: dirname(file) }, cause: err });
    }
    throw new InternalError('CP_TLS_FILE_UNREADABLE', { params: { what, file, reason: code ?? (err as Error).message }, cause: err });
  }
}

function parseCertificates(pem: string, file: string, code: 'CP_TLS_CA_UNREADABLE' | 'CP_TLS_CERT_UNREADABLE'): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new InternalError(code, { params: { file, problem: 'contains no PEM certificate' } });
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new InternalError(code, { params: { file, problem: 'contains an unreadable certificate' }, cause: err });
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
    throw new InternalError('CP_TLS_FILE_NOT_SET', { params: { missing: missing.join(', '), verb: missing.length === 1 ? 'is' : 'are' } });
  }
  const caFile = resolve(files.caFile as string);
  const certFile = resolve(files.certFile as string);
  const keyFile = resolve(files.keyFile as string);

  const caPem = readPem(caFile, 'CA certificate');
  const caCerts = parseCertificates(caPem, caFile, 'CP_TLS_CA_UNREADABLE');
  for (const ca of caCerts) {
    if (!ca.ca) throw new InternalError('CP_TLS_CA_NOT_A_CA', { params: { file: caFile, subject: ca.subject.replace(/\n/g, ', ') } });
  }

  const certPem = readPem(certFile, 'certificate');
  const [certificate] = parseCertificates(certPem, certFile, 'CP_TLS_CERT_UNREADABLE') as [X509Certificate];
  if (certificate.ca) throw new InternalError('CP_TLS_CERT_IS_A_CA', { params: { file: certFile } });

  const keyPem = readPem(keyFile, 'private key');
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new InternalError('CP_TLS_KEY_UNREADABLE', { params: { file: keyFile }, cause: err });
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new InternalError('CP_TLS_KEY_MISMATCH', { params: { keyFile, certFile } });
  }
  if (!caCerts.some((ca) => certificate.checkIssued(ca) && certificate.verify(ca.publicKey))) {
    throw new InternalError('CP_TLS_CERT_NOT_ISSUED_BY_CA', { params: { certFile, caFile } });
  }
  const now = (options.now ?? new Date()).getTime();
  const validTo = new Date(certificate.validTo);
  const validFrom = new Date(certificate.validFrom);
  if (validTo.getTime() <= now)
    throw new InternalError('CP_TLS_CERT_EXPIRED', { params: { file: certFile, validTo: validTo.toISOString() } });
  if (validFrom.getTime() > now)
    throw new InternalError('CP_TLS_CERT_NOT_YET_VALID', { params: { file: certFile, validFrom: validFrom.toISOString() } });

  const material = {
    ca: caCerts.map((c) => c.toString()),
    cert: certificate.toString(),
    certificate,
    files: { caFile, certFile, keyFile },
  };
  Object.defineProperty(material, 'key', { value: keyPem, enumerable: false });
  return material as unknown as TlsMaterial;
}
