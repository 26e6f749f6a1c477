import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { InternalError, isInternalError } from '@controlplane/contracts';
import { parseSpiffeId, type SpiffeKind } from '../pki/index.js';
import { certificateFields, singleSubjectField } from '../pki/internal.js';

/** Who is on the other end of a verified mTLS connection. */
export interface Principal {
  readonly kind: SpiffeKind;
  readonly id: string;
  readonly trustDomain: string;
  readonly spiffeId: string;
  /** Subject O: the tenant a runner belongs to. */
  readonly tenantId?: string;
  /** Subject OU: the runner pool. */
  readonly pool?: string;
  /** Upper-case hex; what revocation lists key on. */
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly notAfter: Date;
}

/** `problem` completes "The peer …". */
function peerIdentityInvalid(problem: string, cause?: unknown): InternalError {
  return new InternalError('CP_TLS_PEER_IDENTITY_INVALID', { params: { problem }, cause });
}

export interface TrustDomainOptions {
  readonly trustDomain: string;
}

/**
 * Identity of a certificate that the TLS layer has already verified against our CA. Throws a
 * CP_TLS_PEER_* error unless the certificate is a leaf with exactly one URI SAN that is a SPIFFE id of
 * `trustDomain` (X.509-SVID rules: more than one URI would make identity ambiguous).
 */
export function principalFromCertificate(cert: X509Certificate, options: TrustDomainOptions): Principal {
  // A client reconnecting presents the same certificate every time; parsing its extensions is by
  // far the dearest part of admitting a connection. The principal depends only on the bytes
  // (named by their SHA-256) and the trust domain; revocation is checked by the caller, apart.
  const key = `${options.trustDomain}\u0000${cert.fingerprint256}`;
  const known = principalCache.get(key);
  if (known) return known;
  const principal = readPrincipal(cert, options);
  if (principalCache.size >= PRINCIPAL_CACHE_SIZE) principalCache.delete(principalCache.keys().next().value!);
  principalCache.set(key, principal);
  return principal;
}

const PRINCIPAL_CACHE_SIZE = 1024;
const principalCache = new Map<string, Principal>();

function readPrincipal(cert: X509Certificate, options: TrustDomainOptions): Principal {
  let fields;
  try {
    fields = certificateFields(new Uint8Array(cert.raw));
  } catch (err) {
    throw peerIdentityInvalid('certificate cannot be read', err);
  }
  if (fields.isCa) throw peerIdentityInvalid('presented a CA certificate, not a leaf');
  if (fields.uris.length !== 1) {
    throw peerIdentityInvalid(`certificate must carry exactly one URI SAN (a SPIFFE id); it has ${fields.uris.length}`);
  }
  const uri = fields.uris[0] as string;
  let parsed;
  try {
    parsed = parseSpiffeId(uri);
  } catch (err) {
    // parseSpiffeId refuses only with CP_PKI_SPIFFE_ID_INVALID; its params say what is wrong.
    const params = isInternalError(err, 'CP_PKI_SPIFFE_ID_INVALID') ? err.params : { id: JSON.stringify(uri), reason: 'not a SPIFFE id' };
    throw new InternalError('CP_TLS_PEER_SPIFFE_ID_INVALID', {
      params: { id: String(params.id), reason: String(params.reason) },
      cause: err,
    });
  }
  if (parsed.trustDomain !== options.trustDomain) {
    throw new InternalError('CP_TLS_PEER_TRUST_DOMAIN_MISMATCH', {
      params: { trustDomain: parsed.trustDomain, expected: options.trustDomain },
    });
  }
  let tenantId: string | undefined;
  let pool: string | undefined;
  try {
    tenantId = singleSubjectField(fields.cert, 'O');
    pool = singleSubjectField(fields.cert, 'OU');
  } catch (err) {
    throw peerIdentityInvalid('certificate subject is ambiguous', err);
  }
  return Object.freeze({
    kind: parsed.kind,
    id: parsed.id,
    trustDomain: parsed.trustDomain,
    spiffeId: uri,
    ...(tenantId !== undefined ? { tenantId } : {}),
    ...(pool !== undefined ? { pool } : {}),
    serialNumber: cert.serialNumber.toUpperCase().replace(/^0+(?=.)/, ''),
    fingerprint256: cert.fingerprint256,
    notAfter: fields.cert.notAfter,
  });
}

/** Like `principalFromSocket`, but says why there is no principal. */
export function resolveSocketPrincipal(
  socket: TLSSocket,
  options: TrustDomainOptions,
): { principal: Principal } | { error: InternalError } {
  // `authorized` is false when the chain did not verify (e.g. a server with rejectUnauthorized off).
  if (!socket.authorized) {
    return {
      error: new InternalError('CP_TLS_PEER_NOT_AUTHORIZED', { params: { reason: String(socket.authorizationError ?? 'no certificate') } }),
    };
  }
  const cert = socket.getPeerX509Certificate();
  if (!cert) return { error: new InternalError('CP_TLS_PEER_CERTIFICATE_MISSING', { params: { peer: 'peer' } }) };
  try {
    return { principal: principalFromCertificate(cert, options) };
  } catch (err) {
    return {
      error: isInternalError(err, 'CP_TLS_') ? err : peerIdentityInvalid('identity cannot be read', err),
    };
  }
}

/** The verified peer of a TLS socket, or undefined when there is none we trust. */
export function principalFromSocket(socket: TLSSocket, options: TrustDomainOptions): Principal | undefined {
  const result = resolveSocketPrincipal(socket, options);
  return 'principal' in result ? result.principal : undefined;
}

/** For `checkServerIdentity`, which hands over Node's legacy certificate object. */
export function principalFromDer(raw: Buffer, options: TrustDomainOptions): Principal {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(raw);
  } catch (err) {
    throw peerIdentityInvalid('certificate cannot be read', err);
  }
  return principalFromCertificate(cert, options);
}
