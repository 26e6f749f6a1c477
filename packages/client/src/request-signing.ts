import { createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { SIGNATURE_HEADER, SIGNATURE_VERSION, canonicalRequestString, formatSignatureHeader } from '@controlplane/contracts';

/**
 * CP-SIG-V1 request signatures (docs/request-signing.md). The canonical form comes from the
 * contracts, the same implementation the gateway verifies with; signing needs only node:crypto.
 */
export { SIGNATURE_HEADER, SIGNATURE_VERSION };

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
export function canonicalRequest(input: {
  method: string;
  target: string;
  body?: Buffer | string | undefined;
  keyId: string;
  timestamp: number;
  nonce: string;
}): string {
  return canonicalRequestString({
    method: input.method,
    url: input.target,
    body: input.body,
    keyId: input.keyId,
    timestamp: input.timestamp,
    nonce: input.nonce,
  });
}

/** Returns the value of the `x-cp-signature` header for one request. Sign every attempt afresh. */
export function signRequest(key: SigningKey, input: SignInput): string {
  const privateKey = typeof key.privateKey === 'string' ? createPrivateKey(key.privateKey) : key.privateKey;
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519')
    throw new TypeError('the signing key must be an Ed25519 private key');
  const timestamp = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const nonce = input.nonce ?? randomBytes(16).toString('base64url');
  const canonical = canonicalRequest({ method: input.method, target: input.target, body: input.body, keyId: key.keyId, timestamp, nonce });
  const sig = sign(null, Buffer.from(canonical, 'utf8'), privateKey).toString('base64url');
  return formatSignatureHeader({ keyId: key.keyId, ts: timestamp, nonce, sig });
}
