import { createHash } from 'node:crypto';
import { InternalError } from './internal-error.js';

/**
 * The canonical form of CP-SIG-V1 signed requests (docs/request-signing.md is the normative
 * description; keep them in step). It lives in the contracts so the client that signs and the
 * gateway that verifies build the very same string from one implementation.
 */
export const SIGNATURE_HEADER = 'x-cp-signature';
export const SIGNATURE_VERSION = 'CP-SIG-V1';
export const DEFAULT_SIGNATURE_WINDOW_SECONDS = 300;

const KEY_ID = /^[A-Za-z0-9._~:-]{1,128}$/;
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const TIMESTAMP = /^(0|[1-9][0-9]{0,11})$/;
// An Ed25519 signature is 64 bytes: 86 base64url characters without padding.
const SIGNATURE = /^[A-Za-z0-9_-]{86}$/;
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
const HEADER_FIELDS = ['keyId', 'ts', 'nonce', 'sig'] as const;
const MAX_HEADER_LENGTH = 512;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface SignatureHeaderFields {
  readonly keyId: string;
  /** Unix seconds. */
  readonly ts: number;
  readonly nonce: string;
  /** base64url (no padding) Ed25519 signature over the canonical string. */
  readonly sig: string;
}

export interface CanonicalRequest {
  method: string;
  /** Path and optional query, exactly as sent on the request line (`/a/b?x=1`). */
  url: string;
  body?: Buffer | Uint8Array | string | undefined;
  keyId: string;
  /** Unix seconds. */
  timestamp: number;
  nonce: string;
}

/** Input that has no canonical form (CP_SIGNING_REQUEST_INVALID); the verifier reports it as SIGNATURE_INVALID. */
function invalidRequest(problem: string): InternalError {
  return new InternalError('CP_SIGNING_REQUEST_INVALID', { params: { problem } });
}

/** A header that is not `keyId=…,ts=…,nonce=…,sig=…` (CP_SIGNING_HEADER_MALFORMED). */
function malformedHeader(problem: string): InternalError {
  return new InternalError('CP_SIGNING_HEADER_MALFORMED', { params: { problem } });
}

/** The exact bytes (as UTF-8) that are signed: eight lines joined by `\n`, no trailing newline. */
export function canonicalRequestString(request: CanonicalRequest): string {
  if (!METHOD.test(request.method)) throw invalidRequest('method must be an HTTP token');
  if (!KEY_ID.test(request.keyId)) throw invalidRequest(`keyId must match ${KEY_ID.source}`);
  if (!NONCE.test(request.nonce)) throw invalidRequest('nonce must be 16-64 base64url characters');
  if (!Number.isSafeInteger(request.timestamp) || request.timestamp < 0)
    throw invalidRequest('timestamp must be non-negative integer Unix seconds');
  const { path, query } = splitUrl(request.url);
  return [
    SIGNATURE_VERSION,
    request.method.toUpperCase(),
    canonicalPath(path),
    canonicalQuery(query),
    bodyDigest(request.body),
    String(request.timestamp),
    request.nonce,
    request.keyId,
  ].join('\n');
}

/** Lowercase hex SHA-256 of the raw body bytes (the empty body hashes the empty string). */
export function bodyDigest(body: Buffer | Uint8Array | string | undefined): string {
  const bytes = body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Each `/`-separated segment is percent-decoded to bytes and re-encoded with only the RFC 3986
 * unreserved characters left bare, so `/a%2db` and `/a-b` sign alike while `%2F` stays distinct from `/`.
 */
export function canonicalPath(path: string): string {
  if (!path.startsWith('/')) throw invalidRequest('the path must start with "/"');
  return path
    .split('/')
    .map((segment) => normaliseComponent(segment, false))
    .join('/');
}

/**
 * `name=value` pairs, each part decoded (`+` is a space, as form encoding and Node's parsers read it)
 * and re-encoded like a path segment, sorted by encoded name then encoded value, joined by `&`.
 * Empty pieces (`a=1&&b=2`) are dropped; a piece without `=` has the empty value.
 */
export function canonicalQuery(query: string): string {
  const pairs: [string, string][] = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq === -1 ? piece : piece.slice(0, eq);
    const value = eq === -1 ? '' : piece.slice(eq + 1);
    pairs.push([normaliseComponent(name, true), normaliseComponent(value, true)]);
  }
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

function splitUrl(url: string): { path: string; query: string } {
  if (typeof url !== 'string') throw invalidRequest('url must be a string');
  if (url.includes('#')) throw invalidRequest('url must not contain a fragment');
  const q = url.indexOf('?');
  return q === -1 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

function normaliseComponent(raw: string, plusIsSpace: boolean): string {
  if (LONE_SURROGATE.test(raw)) throw invalidRequest('the url contains an unpaired surrogate');
  const bytes: number[] = [];
  let i = 0;
  while (i < raw.length) {
    const ch = raw[i];
    if (ch === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw invalidRequest('the url has a "%" not followed by two hex digits');
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else if (plusIsSpace && ch === '+') {
      bytes.push(0x20);
      i += 1;
    } else {
      let end = i + 1;
      while (end < raw.length && raw[end] !== '%' && !(plusIsSpace && raw[end] === '+')) end += 1;
      for (const b of Buffer.from(raw.slice(i, end), 'utf8')) bytes.push(b);
      i = end;
    }
  }
  let out = '';
  for (const b of bytes) {
    const unreserved =
      (b >= 0x41 && b <= 0x5a) ||
      (b >= 0x61 && b <= 0x7a) ||
      (b >= 0x30 && b <= 0x39) ||
      b === 0x2d ||
      b === 0x2e ||
      b === 0x5f ||
      b === 0x7e;
    out += unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function formatSignatureHeader(fields: SignatureHeaderFields): string {
  return `keyId=${fields.keyId},ts=${fields.ts},nonce=${fields.nonce},sig=${fields.sig}`;
}

/**
 * Strict parse of `keyId=…,ts=…,nonce=…,sig=…`: each field exactly once (any order), nothing else, no
 * whitespace inside, each value in its own alphabet. Throws CP_SIGNING_HEADER_MALFORMED with the reason.
 */
export function parseSignatureHeader(value: string): SignatureHeaderFields {
  const text = value.replace(/^[ \t]+|[ \t]+$/g, '');
  if (text.length > MAX_HEADER_LENGTH) throw malformedHeader(`the header is longer than ${MAX_HEADER_LENGTH} characters`);
  const seen = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    if (eq === -1) throw malformedHeader(`field ${JSON.stringify(name)} has no "="`);
    if (!(HEADER_FIELDS as readonly string[]).includes(name)) throw malformedHeader(`unknown field ${JSON.stringify(name)}`);
    if (seen.has(name)) throw malformedHeader(`field ${name} appears twice`);
    seen.set(name, part.slice(eq + 1));
  }
  const keyId = seen.get('keyId');
  const ts = seen.get('ts');
  const nonce = seen.get('nonce');
  const sig = seen.get('sig');
  if (keyId === undefined || ts === undefined || nonce === undefined || sig === undefined) {
    throw malformedHeader(`missing field(s): ${HEADER_FIELDS.filter((f) => !seen.has(f)).join(', ')}`);
  }
  if (!KEY_ID.test(keyId)) throw malformedHeader('keyId has characters outside [A-Za-z0-9._~:-] or is too long');
  if (!TIMESTAMP.test(ts)) throw malformedHeader('ts must be decimal Unix seconds without leading zeros');
  if (!NONCE.test(nonce)) throw malformedHeader('nonce must be 16-64 base64url characters');
  // A re-encoding check refuses the non-canonical spellings (stray low bits) Node's decoder would accept.
  if (!SIGNATURE.test(sig) || Buffer.from(sig, 'base64url').toString('base64url') !== sig) {
    throw malformedHeader('sig must be the unpadded base64url encoding of 64 bytes');
  }
  return { keyId, ts: Number(ts), nonce, sig };
}
