import { InternalError } from '@controlplane/contracts';

/** What a SPIFFE id names: an internal service, an enrolled runner, or an operator/API client. */
export const SPIFFE_KINDS = ['service', 'runner', 'client'] as const;
export type SpiffeKind = (typeof SPIFFE_KINDS)[number];

export interface SpiffeId {
  readonly trustDomain: string;
  readonly kind: SpiffeKind;
  readonly id: string;
}

const SCHEME = 'spiffe://';
// SPIFFE caps an id at 2048 bytes and a trust domain at 255; anything near those is an attack, not a name.
const MAX_SPIFFE_ID_LENGTH = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
const MAX_ID_LENGTH = 128;

// Lowercase only: SPIFFE compares trust domains byte for byte, so a mixed-case domain would be a
// second, distinct domain that looks like ours. Labels are non-empty (no leading, trailing or double dots).
const TRUST_DOMAIN = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;
const ID = /^[A-Za-z0-9._-]+$/;

function invalid(reason: string, value: string): InternalError {
  const shown = value.length > 100 ? `${value.slice(0, 100)}…` : value;
  return new InternalError('CP_PKI_SPIFFE_ID_INVALID', { params: { id: JSON.stringify(shown), reason } });
}

export function isSpiffeKind(value: unknown): value is SpiffeKind {
  return typeof value === 'string' && (SPIFFE_KINDS as readonly string[]).includes(value);
}

export function assertTrustDomain(trustDomain: string): string {
  if (
    typeof trustDomain !== 'string' ||
    trustDomain.length === 0 ||
    trustDomain.length > MAX_TRUST_DOMAIN_LENGTH ||
    !TRUST_DOMAIN.test(trustDomain)
  ) {
    throw new InternalError('CP_PKI_SPIFFE_TRUST_DOMAIN_INVALID', { params: { trustDomain: JSON.stringify(String(trustDomain)) } });
  }
  return trustDomain;
}

function assertId(id: string, whole: string): void {
  if (id.length === 0) throw invalid('the id segment is empty', whole);
  if (id.length > MAX_ID_LENGTH) throw invalid(`the id is longer than ${MAX_ID_LENGTH} characters`, whole);
  if (!ID.test(id)) throw invalid("the id may contain only letters, digits, '.', '-' and '_'", whole);
  // '.' and '..' are path traversal in every consumer that maps ids to paths or URLs.
  if (id === '.' || id.includes('..')) throw invalid("the id may not be '.' or contain '..'", whole);
}

export function buildSpiffeId(trustDomain: string, kind: SpiffeKind, id: string): string {
  assertTrustDomain(trustDomain);
  if (!isSpiffeKind(kind))
    throw new InternalError('CP_PKI_SPIFFE_KIND_UNKNOWN', {
      params: { kind: JSON.stringify(String(kind)), kinds: SPIFFE_KINDS.join(', ') },
    });
  const uri = `${SCHEME}${trustDomain}/${kind}/${id}`;
  assertId(id, uri);
  return uri;
}

/**
 * Strict parse of `spiffe://<trust-domain>/<kind>/<id>`. Deliberately not built on `new URL`,
 * which normalises (case, percent-encoding, dot segments) and would accept ids that compare
 * differently from the bytes in the certificate.
 */
export function parseSpiffeId(uri: string): SpiffeId {
  if (typeof uri !== 'string') throw invalid('not a string', String(uri));
  if (uri.length > MAX_SPIFFE_ID_LENGTH) throw invalid('too long', uri);
  if (!uri.startsWith(SCHEME)) throw invalid("it must start with 'spiffe://' (lowercase)", uri);
  if (/[?#]/.test(uri)) throw invalid('query and fragment are not allowed', uri);
  if (uri.includes('%')) throw invalid('percent-encoding is not allowed', uri);
  const rest = uri.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  if (slash < 0) throw invalid('a path /<kind>/<id> is required', uri);
  const trustDomain = rest.slice(0, slash);
  if (trustDomain.includes('@')) throw invalid('user info is not allowed', uri);
  if (trustDomain.includes(':')) throw invalid('a port is not allowed', uri);
  if (trustDomain.length > MAX_TRUST_DOMAIN_LENGTH || !TRUST_DOMAIN.test(trustDomain)) {
    throw invalid("the trust domain must be lowercase letters, digits, '-', '_' in non-empty dot-separated labels", uri);
  }
  const segments = rest.slice(slash + 1).split('/');
  if (segments.length !== 2) throw invalid('the path must be exactly /<kind>/<id>', uri);
  const [kind, id] = segments as [string, string];
  if (!isSpiffeKind(kind)) throw invalid(`the kind must be one of ${SPIFFE_KINDS.join(', ')}`, uri);
  assertId(id, uri);
  return { trustDomain, kind, id };
}

/** The trust domain's own SPIFFE id (`spiffe://<domain>`), carried by the CA certificate. */
export function trustDomainId(trustDomain: string): string {
  return `${SCHEME}${assertTrustDomain(trustDomain)}`;
}

export function parseTrustDomainId(uri: string): string | undefined {
  if (!uri.startsWith(SCHEME)) return undefined;
  const td = uri.slice(SCHEME.length);
  return td.length <= MAX_TRUST_DOMAIN_LENGTH && TRUST_DOMAIN.test(td) ? td : undefined;
}
