import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InternalError } from '@controlplane/contracts';
import {
  createCertificateAuthority,
  issuanceInvalid,
  issueCertificate,
  openCertificateAuthority,
  type CertificateAuthority,
} from './certificate-authority.js';
import { inspectCertificate } from './inspect-certificate.js';
import { assertKeyAlgorithm, type KeyAlgorithm } from './key-algorithms.js';
import { assertTrustDomain, buildSpiffeId } from './spiffe.js';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';
export const DEFAULT_PKI_SERVICES: readonly string[] = Object.freeze(['gateway', 'jobforge', 'truthcore']);
export const DEFAULT_PKI_HOSTS: readonly string[] = Object.freeze(['localhost', '127.0.0.1', '::1']);
/** Service certificates from `pki init` are for development and small installs; a year keeps `dev` working. */
export const DEFAULT_SERVICE_VALIDITY_DAYS = 365;

const KEY_FILE_MODE = 0o600;
const CERT_FILE_MODE = 0o644;
const DIR_MODE = 0o700;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The three files a process needs for mTLS. */
export interface TlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** Where `initPki` put a service's material. */
export function servicePkiFiles(dir: string, service: string): TlsFiles {
  return { caFile: join(dir, CA_CERT_FILE), certFile: join(dir, `${service}.crt`), keyFile: join(dir, `${service}.key`) };
}

export interface InitPkiOptions {
  readonly dir: string;
  readonly trustDomain: string;
  readonly services?: readonly string[];
  /** DNS names and IP addresses put in every service certificate. */
  readonly hosts?: readonly string[];
  readonly algorithm?: KeyAlgorithm;
  /** Replace existing files (a new CA invalidates every certificate the old one issued). */
  readonly force?: boolean;
  readonly caValidityDays?: number;
  readonly serviceValidityDays?: number;
}

export interface InitPkiResult {
  readonly dir: string;
  readonly trustDomain: string;
  readonly algorithm: KeyAlgorithm;
  readonly ca: {
    readonly certFile: string;
    readonly keyFile: string;
    readonly serialNumber: string;
    readonly fingerprint256: string;
    readonly notAfter: Date;
  };
  readonly services: ReadonlyArray<{
    readonly name: string;
    readonly spiffeId: string;
    readonly certFile: string;
    readonly keyFile: string;
    readonly serialNumber: string;
    readonly notAfter: Date;
  }>;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Without `force`, 'wx' makes creation atomic-exclusive, so a concurrent init cannot be silently
 * clobbered. With `force`, a temp file renamed into place means a reader never sees a half-written
 * key, and the mode is set at creation, so the key is never briefly readable by others.
 */
async function writeSecureFile(path: string, content: string, mode: number, force: boolean): Promise<void> {
  if (!force) {
    await writeFile(path, content, { mode, flag: 'wx' });
  } else {
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, content, { mode, flag: 'wx' });
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
  // writeFile's mode is filtered by the umask; set it exactly.
  await chmod(path, mode);
}

function splitHosts(hosts: readonly string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const h of hosts) {
    // IPv6 literals contain ':', IPv4 literals are all digits and dots; everything else is a DNS name.
    if (h.includes(':') || /^\d+(\.\d+){3}$/.test(h)) ipAddresses.push(h);
    else dnsNames.push(h);
  }
  return { dnsNames, ipAddresses };
}

export async function initPki(options: InitPkiOptions): Promise<InitPkiResult> {
  const dir = resolve(options.dir);
  const trustDomain = assertTrustDomain(options.trustDomain);
  const algorithm = assertKeyAlgorithm(options.algorithm);
  const services = [...(options.services ?? DEFAULT_PKI_SERVICES)];
  const hosts = [...(options.hosts ?? DEFAULT_PKI_HOSTS)];
  const force = options.force === true;

  const seen = new Set<string>();
  for (const name of services) {
    buildSpiffeId(trustDomain, 'service', name);
    if (name === 'ca') throw issuanceInvalid("A service may not be called 'ca' (its files would replace the CA's).");
    if (seen.has(name)) throw issuanceInvalid(`Service ${name} is listed twice.`);
    seen.add(name);
  }

  const caFiles = { certFile: join(dir, CA_CERT_FILE), keyFile: join(dir, CA_KEY_FILE) };
  const targets = [
    caFiles.certFile,
    caFiles.keyFile,
    ...services.flatMap((s) => [servicePkiFiles(dir, s).certFile, servicePkiFiles(dir, s).keyFile]),
  ];
  if (!force) {
    const present: string[] = [];
    for (const t of targets) if (await exists(t)) present.push(t);
    if (present.length > 0) {
      throw new InternalError('CP_PKI_ALREADY_EXISTS', { params: { files: present.join(', ') } });
    }
  }

  // Everything is generated before anything is written, so a failure leaves the directory untouched.
  const ca = await createCertificateAuthority({
    trustDomain,
    algorithm,
    ...(options.caValidityDays !== undefined ? { validityDays: options.caValidityDays } : {}),
  });
  const { dnsNames, ipAddresses } = splitHosts(hosts);
  const validityMs = (options.serviceValidityDays ?? DEFAULT_SERVICE_VALIDITY_DAYS) * DAY_MS;
  const issued = [];
  for (const name of services) {
    const spiffeId = buildSpiffeId(trustDomain, 'service', name);
    const cert = await issueCertificate(ca, { spiffeId, dnsNames, ipAddresses, validityMs });
    issued.push({ name, spiffeId, cert, files: servicePkiFiles(dir, name) });
  }

  const created = await mkdir(dir, { recursive: true, mode: DIR_MODE });
  if (created !== undefined) await chmod(dir, DIR_MODE);
  await writeSecureFile(caFiles.keyFile, ca.keyPem, KEY_FILE_MODE, force);
  await writeSecureFile(caFiles.certFile, ca.certPem, CERT_FILE_MODE, force);
  for (const s of issued) {
    await writeSecureFile(s.files.keyFile, s.cert.keyPem ?? '', KEY_FILE_MODE, force);
    await writeSecureFile(s.files.certFile, s.cert.certPem, CERT_FILE_MODE, force);
  }

  const caSummary = inspectCertificate(ca.certPem);
  return {
    dir,
    trustDomain,
    algorithm,
    ca: { ...caFiles, serialNumber: caSummary.serialNumber, fingerprint256: caSummary.fingerprint256, notAfter: caSummary.notAfter },
    services: issued.map((s) => ({
      name: s.name,
      spiffeId: s.spiffeId,
      certFile: s.files.certFile,
      keyFile: s.files.keyFile,
      serialNumber: s.cert.serialNumber,
      notAfter: s.cert.notAfter,
    })),
  };
}

export interface LoadedCertificateAuthority extends CertificateAuthority {
  readonly trustDomain: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** Reads and checks the CA that `initPki` wrote (a CA certificate whose key matches). */
export async function loadCertificateAuthority(dir: string): Promise<LoadedCertificateAuthority> {
  const certFile = join(resolve(dir), CA_CERT_FILE);
  const keyFile = join(resolve(dir), CA_KEY_FILE);
  const read = async (path: string): Promise<string> => {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new InternalError('CP_PKI_CA_NOT_FOUND', { params: { path, dir }, cause: err });
      }
      throw new InternalError('CP_PKI_CA_FILE_UNREADABLE', { params: { path, reason: (err as Error).message }, cause: err });
    }
  };
  const ca = { certPem: await read(certFile), keyPem: await read(keyFile) };
  const opened = await openCertificateAuthority(ca);
  return { ...ca, trustDomain: opened.trustDomain, certFile, keyFile };
}
