import { Agent } from 'node:https';
import type { PeerCertificate } from 'node:tls';
import { InternalError, isInternalError } from '@controlplane/contracts';
import { assertTrustDomain, parseSpiffeId } from '../pki/index.js';
import { principalFromCertificate, principalFromDer } from './principal.js';
import type { TlsMaterial } from './tls-material.js';

/** Options for `https.createServer` / `tls.createServer`. */
export interface MtlsServerOptions {
  readonly ca: string[];
  readonly cert: string;
  readonly key: string;
  readonly minVersion: 'TLSv1.3';
  readonly maxVersion: 'TLSv1.3';
  readonly requestCert: true;
  readonly rejectUnauthorized: true;
}

/** Options for `https.request` / `tls.connect` / `new https.Agent`. */
export interface MtlsClientOptions {
  readonly ca: string[];
  readonly cert: string;
  readonly key: string;
  readonly minVersion: 'TLSv1.3';
  readonly maxVersion: 'TLSv1.3';
  readonly rejectUnauthorized: true;
  readonly checkServerIdentity: (hostname: string, cert: PeerCertificate) => Error | undefined;
}

export interface MtlsClientIdentityOptions {
  readonly trustDomain: string;
  /**
   * The server's SPIFFE id, or a predicate over it. When absent, any *service* identity of the
   * trust domain is accepted: runner and client certificates also carry serverAuth, and must not
   * be able to stand in for a service.
   */
  readonly expectedServerId?: string | ((spiffeId: string) => boolean);
}

/** Fails start-up when our own certificate is not an identity of the trust domain we serve. */
function assertOwnIdentity(material: TlsMaterial, trustDomain: string): void {
  assertTrustDomain(trustDomain);
  try {
    principalFromCertificate(material.certificate, { trustDomain });
  } catch (err) {
    throw new InternalError('CP_TLS_IDENTITY_INVALID', {
      params: { file: material.files.certFile, trustDomain, reason: (err as Error).message },
      cause: err,
    });
  }
}

export function mtlsServerOptions(material: TlsMaterial, options: { readonly trustDomain: string }): MtlsServerOptions {
  assertOwnIdentity(material, options.trustDomain);
  return {
    // Only our CA: the system store would let any public CA's customer in.
    ca: [...material.ca],
    cert: material.cert,
    key: material.key,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    requestCert: true,
    rejectUnauthorized: true,
  };
}

export function mtlsClientOptions(material: TlsMaterial, options: MtlsClientIdentityOptions): MtlsClientOptions {
  assertOwnIdentity(material, options.trustDomain);
  const { trustDomain, expectedServerId } = options;
  if (typeof expectedServerId === 'string') {
    let expected;
    try {
      expected = parseSpiffeId(expectedServerId);
    } catch (err) {
      throw new InternalError('CP_TLS_EXPECTED_SERVER_ID_INVALID', {
        params: { reason: isInternalError(err, 'CP_PKI_') ? err.message : String(err) },
        cause: err,
      });
    }
    if (expected.trustDomain !== trustDomain) {
      throw new InternalError('CP_TLS_EXPECTED_SERVER_ID_FOREIGN', { params: { id: expectedServerId, trustDomain } });
    }
  }
  // Replaces hostname checking: internal services are addressed by IP or by names that change
  // with deployment, while the SPIFFE id in the certificate is what identifies them.
  const checkServerIdentity = (_hostname: string, cert: PeerCertificate): Error | undefined => {
    if (!cert || !Buffer.isBuffer(cert.raw)) return new InternalError('CP_TLS_PEER_CERTIFICATE_MISSING', { params: { peer: 'server' } });
    let spiffeId: string;
    let kind: string;
    try {
      ({ spiffeId, kind } = principalFromDer(cert.raw, { trustDomain }));
    } catch (err) {
      return err instanceof Error
        ? err
        : new InternalError('CP_TLS_PEER_IDENTITY_INVALID', { params: { problem: `identity cannot be read (${String(err)})` } });
    }
    const accepted =
      typeof expectedServerId === 'string'
        ? spiffeId === expectedServerId
        : typeof expectedServerId === 'function'
          ? expectedServerId(spiffeId) === true
          : kind === 'service';
    return accepted ? undefined : new InternalError('CP_TLS_PEER_REJECTED', { params: { spiffeId } });
  };
  return {
    ca: [...material.ca],
    cert: material.cert,
    key: material.key,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    rejectUnauthorized: true,
    checkServerIdentity,
  };
}

/**
 * An HTTPS agent pinned to one expected server identity. Use one agent per identity: Node's
 * agent pools sockets and TLS sessions by host and TLS options but not by `checkServerIdentity`,
 * and skips that check on a resumed session, so a shared agent could reuse a connection that was
 * checked against another expectation.
 */
export function createMtlsAgent(
  material: TlsMaterial,
  options: MtlsClientIdentityOptions & { readonly keepAlive?: boolean; readonly maxSockets?: number },
): Agent {
  const { keepAlive, maxSockets, ...identity } = options;
  return new Agent({
    ...mtlsClientOptions(material, identity),
    keepAlive: keepAlive ?? true,
    ...(maxSockets !== undefined ? { maxSockets } : {}),
  });
}
