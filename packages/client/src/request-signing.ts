import { createHash, createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * CP-SIG-V1 request signatures (docs/request-signing.md is the normative description). Written
 * here again on purpose: the client depends on the contracts only, so an application that embeds it
 * does not pull in the server-side platform package. The client tests check this implementation
 * against the gateway's verifier and the worked example of the document.
 */
export const SIGNATURE_HEADER = 'x-cp-signature';
export const SIGNATURE_VERSION = 'CP-SIG-V1';

const KEY_ID = /^[A-Za-z0-9._~:-]{1,128}$/;
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export interface SigningKey {
  /** The API key id the public key is registered under (`signingKeyId` when the key was created). */
  readonly keyId: string;
  /** Ed25519 private key: PKCS#8 PEM or a KeyObject. */
  readonly privateKey: string | KeyObject;
}

export interface SignInput {
  method: string;
  /** Path and query exactly as they go on the request line. */
  target: string;
  /** The body bytes exactly as sent. */
  body?: Buffer | string | undefined;
  now?: Date;
  nonce?: string;
}

/** The eight lines that are signed, joined by `\n` with no trailing newline. */
export function canonicalRequest(input: { method: string; target: string; body?: Buffer | string | undefined; keyId: string; timestamp: number; nonce: string }): string {
  if (!METHOD.test(input.method)) throw new TypeError('method must be an HTTP token');
  if (!KEY_ID.test(input.keyId)) throw new TypeError('keyId has characters outside [A-Za-z0-9._~:-] or is too long');
  if (!NONCE.test(input.nonce)) throw new TypeError('nonce must be 16-64 base64url characters');
  if (input.target.includes('#')) throw new TypeError('the request target must not contain a fragment');
  const q = input.target.indexOf('?');
  const path = q === -1 ? input.target : input.target.slice(0, q);
  const query = q === -1 ? '' : input.target.slice(q + 1);
  if (!path.startsWith('/')) throw new TypeError('the request target must start with "/"');
  const bytes = input.body === undefined ? Buffer.alloc(0) : typeof input.body === 'string' ? Buffer.from(input.body, 'utf8') : input.body;
  return [
    SIGNATURE_VERSION,
    input.method.toUpperCase(),
    path.split('/').map((s) => normalise(s, false)).join('/'),
    canonicalQueryOf(query),
    createHash('sha256').update(bytes).digest('hex'),
    String(input.timestamp),
    input.nonce,
    input.keyId,
  ].join('\n');
}

function canonicalQueryOf(query: string): string {
  const pairs: Array<[string, string]> = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    pairs.push([normalise(eq === -1 ? piece : piece.slice(0, eq), true), normalise(eq === -1 ? '' : piece.slice(eq + 1), true)]);
  }
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

/** Percent-decodes to bytes, then re-encodes everything but RFC 3986 unreserved characters (upper-case hex). */
function normalise(raw: string, plusIsSpace: boolean): string {
  if (LONE_SURROGATE.test(raw)) throw new TypeError('the request target contains an unpaired surrogate');
  const bytes: number[] = [];
  let i = 0;
  while (i < raw.length) {
    const ch = raw[i];
    if (ch === '%') {
      const hex = raw.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new TypeError('the request target has a "%" not followed by two hex digits');
      bytes.push(parseInt(hex, 16));
      i += 3;
    } else if (plusIsSpace && ch === '+') {
      bytes.push(0x20);
      i += 1;
    } else {
      let end = i + 1;
      while (end < raw.length && raw[end] !== '%' && !(plusIsSpace && raw[end] === '+')) end += 1;
      bytes.push(...Buffer.from(raw.slice(i, end), 'utf8'));
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

/** Returns the value of the `x-cp-signature` header for one request. Sign every attempt afresh. */
export function signRequest(key: SigningKey, input: SignInput): string {
  const privateKey = typeof key.privateKey === 'string' ? createPrivateKey(key.privateKey) : key.privateKey;
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('the signing key must be an Ed25519 private key');
  const timestamp = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const nonce = input.nonce ?? randomBytes(16).toString('base64url');
  const canonical = canonicalRequest({ method: input.method, target: input.target, body: input.body, keyId: key.keyId, timestamp, nonce });
  const sig = sign(null, Buffer.from(canonical, 'utf8'), privateKey).toString('base64url');
  return `keyId=${key.keyId},ts=${timestamp},nonce=${nonce},sig=${sig}`;
}
