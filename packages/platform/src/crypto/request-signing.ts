import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { AppError } from '@controlplane/contracts';
import type { NonceStore } from './nonce-store.js';

/**
 * Signed critical requests (docs/request-signing.md is the normative description; keep them in step).
 * The client signs a canonical string with its Ed25519 private key; the server holds only the public
 * key, so nothing the server stores lets anyone sign.
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

/** Thrown for input that has no canonical form; the verifier reports it as SIGNATURE_INVALID. */
export class SigningInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SigningInputError';
  }
}

/** The exact bytes (as UTF-8) that are signed: eight lines joined by `\n`, no trailing newline. */
export function canonicalRequestString(request: CanonicalRequest): string {
  if (!METHOD.test(request.method)) throw new SigningInputError('method must be an HTTP token');
  if (!KEY_ID.test(request.keyId)) throw new SigningInputError(`keyId must match ${KEY_ID.source}`);
  if (!NONCE.test(request.nonce)) throw new SigningInputError('nonce must be 16-64 base64url characters');
  if (!Number.isSafeInteger(request.timestamp) || request.timestamp < 0) throw new SigningInputError('timestamp must be non-negative integer Unix seconds');
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
  if (!path.startsWith('/')) throw new SigningInputError('the path must start with "/"');
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
  if (typeof url !== 'string') throw new SigningInputError('url must be a string');
  if (url.includes('#')) throw new SigningInputError('url must not contain a fragment');
  const q = url.indexOf('?');
  return q === -1 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) };
}

function normaliseComponent(raw: string, plusIsSpace: boolean): string {
  if (LONE_SURROGATE.test(raw)) throw new SigningInputError('the url contains an unpaired surrogate');
  const bytes: number[] = [];
  let i = 0;
  while (i < raw.length) {
    const ch = raw[i];
    if (ch === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new SigningInputError('the url has a "%" not followed by two hex digits');
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
    const unreserved = (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
    out += unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function formatSignatureHeader(fields: SignatureHeaderFields): string {
  return `keyId=${fields.keyId},ts=${fields.ts},nonce=${fields.nonce},sig=${fields.sig}`;
}

/**
 * Strict parse of `keyId=…,ts=…,nonce=…,sig=…`: each field exactly once (any order), nothing else, no
 * whitespace inside, each value in its own alphabet. Throws SigningInputError with the reason.
 */
export function parseSignatureHeader(value: string): SignatureHeaderFields {
  const text = value.replace(/^[ \t]+|[ \t]+$/g, '');
  if (text.length > MAX_HEADER_LENGTH) throw new SigningInputError(`the header is longer than ${MAX_HEADER_LENGTH} characters`);
  const seen = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const name = eq === -1 ? part : part.slice(0, eq);
    if (eq === -1) throw new SigningInputError(`field ${JSON.stringify(name)} has no "="`);
    if (!(HEADER_FIELDS as readonly string[]).includes(name)) throw new SigningInputError(`unknown field ${JSON.stringify(name)}`);
    if (seen.has(name)) throw new SigningInputError(`field ${name} appears twice`);
    seen.set(name, part.slice(eq + 1));
  }
  const keyId = seen.get('keyId');
  const ts = seen.get('ts');
  const nonce = seen.get('nonce');
  const sig = seen.get('sig');
  if (keyId === undefined || ts === undefined || nonce === undefined || sig === undefined) {
    throw new SigningInputError(`missing field(s): ${HEADER_FIELDS.filter((f) => !seen.has(f)).join(', ')}`);
  }
  if (!KEY_ID.test(keyId)) throw new SigningInputError('keyId has characters outside [A-Za-z0-9._~:-] or is too long');
  if (!TIMESTAMP.test(ts)) throw new SigningInputError('ts must be decimal Unix seconds without leading zeros');
  if (!NONCE.test(nonce)) throw new SigningInputError('nonce must be 16-64 base64url characters');
  // A re-encoding check refuses the non-canonical spellings (stray low bits) Node's decoder would accept.
  if (!SIGNATURE.test(sig) || Buffer.from(sig, 'base64url').toString('base64url') !== sig) {
    throw new SigningInputError('sig must be the unpadded base64url encoding of 64 bytes');
  }
  return { keyId, ts: Number(ts), nonce, sig };
}

export interface SignRequestOptions {
  method: string;
  /** Path and optional query, exactly as it will be sent. */
  url: string;
  body?: Buffer | Uint8Array | string | undefined;
  keyId: string;
  /** Ed25519 private key: PKCS#8 PEM or a KeyObject. */
  privateKey: string | KeyObject;
  now?: Date;
  /** Defaults to 16 random bytes, base64url. Never reuse one. */
  nonce?: string;
}

/** Returns the value for the `x-cp-signature` header. */
export function signRequest(options: SignRequestOptions): string {
  const key = typeof options.privateKey === 'string' ? createPrivateKey(options.privateKey) : options.privateKey;
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') throw new SigningInputError('privateKey must be an Ed25519 private key');
  const timestamp = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const nonce = options.nonce ?? randomBytes(16).toString('base64url');
  const canonical = canonicalRequestString({ method: options.method, url: options.url, body: options.body, keyId: options.keyId, timestamp, nonce });
  const sig = sign(null, Buffer.from(canonical, 'utf8'), key).toString('base64url');
  return formatSignatureHeader({ keyId: options.keyId, ts: timestamp, nonce, sig });
}

export interface VerifyRequestOptions {
  method: string;
  /** The request target as received (`req.url`), not a router-normalised path. */
  url: string;
  /** The raw body bytes as received, before any JSON parsing. */
  body?: Buffer | Uint8Array | string | undefined;
  /** The `x-cp-signature` header as Node gives it. */
  header: string | string[] | undefined;
  /** The Ed25519 public key registered for a key id, or undefined if there is none (or it is revoked). */
  publicKeyFor: (keyId: string) => Promise<KeyObject | undefined>;
  nonceStore: NonceStore;
  now?: Date;
  /** Largest accepted |now − ts|, in seconds. Default 300. */
  windowSeconds?: number;
}

/**
 * Checks, in this order: header present and well-formed → timestamp within the window (past and
 * future) → signature → nonce unused. The nonce is recorded only after the signature verifies, so
 * forged requests cannot use up a legitimate client's nonces. Resolves to the verified key id.
 */
export async function verifyRequestSignature(options: VerifyRequestOptions): Promise<{ keyId: string }> {
  const window = options.windowSeconds ?? DEFAULT_SIGNATURE_WINDOW_SECONDS;
  if (!Number.isInteger(window) || window < 1 || window > 3600) throw new RangeError('windowSeconds must be an integer from 1 to 3600');

  const raw = Array.isArray(options.header) ? options.header : options.header === undefined ? [] : [options.header];
  if (raw.length === 0 || (raw.length === 1 && raw[0]?.trim() === '')) throw new AppError('SIGNATURE_REQUIRED');
  if (raw.length > 1) throw invalid('the x-cp-signature header appears more than once');

  let fields: SignatureHeaderFields;
  try {
    fields = parseSignatureHeader(raw[0] ?? '');
  } catch (err) {
    throw invalid(err instanceof SigningInputError ? `malformed x-cp-signature header: ${err.message}` : 'malformed x-cp-signature header', err);
  }

  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - fields.ts) > window) throw new AppError('SIGNATURE_EXPIRED');

  let canonical: string;
  try {
    canonical = canonicalRequestString({ method: options.method, url: options.url, body: options.body, keyId: fields.keyId, timestamp: fields.ts, nonce: fields.nonce });
  } catch (err) {
    throw invalid(err instanceof SigningInputError ? `the request has no canonical form: ${err.message}` : 'the request has no canonical form', err);
  }

  const publicKey = await options.publicKeyFor(fields.keyId);
  // An unknown key id answers exactly like a bad signature, so key ids cannot be probed.
  if (!publicKey) throw invalid();
  if (publicKey.type !== 'public' || publicKey.asymmetricKeyType !== 'ed25519') {
    throw invalid(undefined, new Error(`the key registered for ${fields.keyId} is not an Ed25519 public key`));
  }
  if (!verify(null, Buffer.from(canonical, 'utf8'), publicKey, Buffer.from(fields.sig, 'base64url'))) throw invalid();

  // Remembered until no request with this timestamp could pass the window check any more.
  const ttlSeconds = Math.max(1, fields.ts + window - now + 1);
  if (!(await options.nonceStore.checkAndStore(fields.keyId, fields.nonce, ttlSeconds))) throw new AppError('SIGNATURE_REPLAYED');
  return { keyId: fields.keyId };
}

function invalid(detail?: string, cause?: unknown): AppError {
  return new AppError('SIGNATURE_INVALID', {
    ...(detail ? { details: [{ path: SIGNATURE_HEADER, message: detail }] } : {}),
    ...(cause !== undefined ? { cause } : {}),
  });
}

export interface SigningKeyPair {
  /** SPKI PEM: what the server stores against the API key id. */
  publicKeyPem: string;
  /** PKCS#8 PEM: stays with the client. */
  privateKeyPem: string;
}

export function generateSigningKeyPair(): SigningKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}
