import { createPrivateKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import {
  AppError,
  DEFAULT_SIGNATURE_WINDOW_SECONDS,
  InternalError,
  SIGNATURE_HEADER,
  canonicalRequestString,
  formatSignatureHeader,
  isInternalError,
  parseSignatureHeader,
  type SignatureHeaderFields,
} from '@controlplane/contracts';
import type { NonceStore } from './nonce-store.js';

/**
 * Signed critical requests (docs/request-signing.md is the normative description; keep them in step).
 * The client signs a canonical string with its Ed25519 private key; the server holds only the public
 * key, so nothing the server stores lets anyone sign. The canonical form itself is in the contracts.
 */
export {
  DEFAULT_SIGNATURE_WINDOW_SECONDS,
  SIGNATURE_HEADER,
  SIGNATURE_VERSION,
  bodyDigest,
  canonicalPath,
  canonicalQuery,
  canonicalRequestString,
  formatSignatureHeader,
  parseSignatureHeader,
  type CanonicalRequest,
  type SignatureHeaderFields,
} from '@controlplane/contracts';
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
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519')
    throw new InternalError('CP_SIGNING_REQUEST_INVALID', { params: { problem: 'privateKey must be an Ed25519 private key' } });
  const timestamp = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const nonce = options.nonce ?? randomBytes(16).toString('base64url');
  const canonical = canonicalRequestString({
    method: options.method,
    url: options.url,
    body: options.body,
    keyId: options.keyId,
    timestamp,
    nonce,
  });
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
    throw invalid(
      isInternalError(err, 'CP_SIGNING_HEADER_MALFORMED')
        ? `malformed x-cp-signature header: ${err.message}`
        : 'malformed x-cp-signature header',
      err,
    );
  }

  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(now - fields.ts) > window) throw new AppError('SIGNATURE_EXPIRED');

  let canonical: string;
  try {
    canonical = canonicalRequestString({
      method: options.method,
      url: options.url,
      body: options.body,
      keyId: fields.keyId,
      timestamp: fields.ts,
      nonce: fields.nonce,
    });
  } catch (err) {
    throw invalid(
      isInternalError(err, 'CP_SIGNING_REQUEST_INVALID')
        ? `the request has no canonical form: ${err.message}`
        : 'the request has no canonical form',
      err,
    );
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
    ...(detail ? { details: [{ path: ['headers', SIGNATURE_HEADER], message: detail }] } : {}),
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
