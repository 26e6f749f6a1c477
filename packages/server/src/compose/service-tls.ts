import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InternalError } from '@controlplane/contracts';
import {
  CA_KEY_FILE,
  buildSpiffeId,
  createMtlsAgent,
  loadTlsMaterial,
  servicePkiFiles,
  type CertificateAuthority,
  type Config,
  type TlsFiles,
  type TlsMaterial,
} from '@controlplane/platform';
import type { Agent } from 'node:https';

export type ServiceName = 'gateway' | 'jobforge' | 'truthcore';

/** `<dataDir>/pki`: where `controlplane dev` and `controlplane pki init` keep the CA and certificates. */
export function pkiDirOf(config: Readonly<Config>): string {
  return join(config.dataDir, 'pki');
}

/** This process's mTLS files: `tls.*` when set, else the service's files in `<dataDir>/pki`. */
export function serviceTlsFiles(config: Readonly<Config>, service: ServiceName): TlsFiles {
  const defaults = servicePkiFiles(pkiDirOf(config), service);
  return {
    caFile: config.tls.caFile ?? defaults.caFile,
    certFile: config.tls.certFile ?? defaults.certFile,
    keyFile: config.tls.keyFile ?? defaults.keyFile,
  };
}

/** An mTLS agent presenting `material` and accepting only `server`'s certificate identity. */
export function serviceAgent(material: TlsMaterial, trustDomain: string, server: ServiceName): Agent {
  return createMtlsAgent(material, { trustDomain, expectedServerId: buildSpiffeId(trustDomain, 'service', server), keepAlive: true });
}

/**
 * The CA JobForge signs runner certificates with: the key in `jobforge.caKeyFile` (default `ca.key`
 * next to the CA certificate) and, of the trusted CA certificates, the one that key belongs to.
 */
export function jobforgeCertificateAuthority(config: Readonly<Config>, material: TlsMaterial): CertificateAuthority {
  const keyFile = config.jobforge.caKeyFile ?? join(dirname(material.files.caFile), CA_KEY_FILE);
  let keyPem: string;
  try {
    keyPem = readFileSync(keyFile, 'utf8');
  } catch (err) {
    throw new InternalError('CP_COMPOSE_CA_KEY_UNREADABLE', {
      params: { keyFile, reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message },
      cause: err,
    });
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new InternalError('CP_COMPOSE_CA_KEY_INVALID', { params: { keyFile }, cause: err });
  }
  const certPem = material.ca.find((pem) => new X509Certificate(pem).checkPrivateKey(key));
  if (!certPem) throw new InternalError('CP_COMPOSE_CA_KEY_UNMATCHED', { params: { keyFile, caFile: material.files.caFile } });
  return { certPem, keyPem };
}

export function loadServiceMaterial(config: Readonly<Config>, service: ServiceName): TlsMaterial {
  return loadTlsMaterial(serviceTlsFiles(config, service));
}
