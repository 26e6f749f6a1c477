import { createPrivateKey, createPublicKey, randomBytes, type KeyObject, type webcrypto } from 'node:crypto';
import { InternalError } from '@controlplane/contracts';
import { subtle, x509 } from './x509.js';

/** Key algorithms the PKI issues and accepts. Anything else is refused rather than guessed at. */
export const KEY_ALGORITHMS = ['ECDSA-P256', 'Ed25519'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];
export const DEFAULT_KEY_ALGORITHM: KeyAlgorithm = 'ECDSA-P256';

interface AlgorithmParams {
  readonly key: webcrypto.EcKeyImportParams | webcrypto.Algorithm;
  readonly signing: webcrypto.EcdsaParams | webcrypto.Algorithm;
}

const PARAMS: Record<KeyAlgorithm, AlgorithmParams> = {
  'ECDSA-P256': { key: { name: 'ECDSA', namedCurve: 'P-256' }, signing: { name: 'ECDSA', hash: 'SHA-256' } },
  Ed25519: { key: { name: 'Ed25519' }, signing: { name: 'Ed25519' } },
};

export function isKeyAlgorithm(value: unknown): value is KeyAlgorithm {
  return typeof value === 'string' && (KEY_ALGORITHMS as readonly string[]).includes(value);
}

export function assertKeyAlgorithm(value: unknown): KeyAlgorithm {
  if (value === undefined) return DEFAULT_KEY_ALGORITHM;
  if (!isKeyAlgorithm(value)) {
    throw new InternalError('CP_PKI_KEY_ALGORITHM_UNSUPPORTED', {
      params: { algorithm: String(value), supported: KEY_ALGORITHMS.join(', ') },
    });
  }
  return value;
}

export function signingAlgorithm(algorithm: KeyAlgorithm): webcrypto.EcdsaParams | webcrypto.Algorithm {
  return PARAMS[algorithm].signing;
}

export async function generateKeyPair(algorithm: KeyAlgorithm): Promise<webcrypto.CryptoKeyPair> {
  // Extractable only so the private key can be written out once as PKCS#8.
  return (await subtle.generateKey(PARAMS[algorithm].key, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

export async function exportPrivateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  return toPem('PRIVATE KEY', der);
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Which of our algorithms a Node key object uses, or a refusal. */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm {
  if (key.asymmetricKeyType === 'ed25519') return 'Ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ECDSA-P256';
  const detail = key.asymmetricKeyType === 'ec' ? `ec/${key.asymmetricKeyDetails?.namedCurve ?? '?'}` : String(key.asymmetricKeyType);
  throw new InternalError('CP_PKI_KEY_TYPE_UNSUPPORTED', { params: { keyType: detail, supported: KEY_ALGORITHMS.join(', ') } });
}

/** Imports a PEM private key (PKCS#8 or SEC1) as a non-extractable WebCrypto signing key. */
export async function importSigningKey(pem: string): Promise<{ key: webcrypto.CryptoKey; algorithm: KeyAlgorithm; keyObject: KeyObject }> {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey(pem);
  } catch (err) {
    throw new InternalError('CP_PKI_KEY_PRIVATE_UNREADABLE', { cause: err });
  }
  const algorithm = keyAlgorithmOf(keyObject);
  const der = keyObject.export({ type: 'pkcs8', format: 'der' });
  const key = await subtle.importKey('pkcs8', der, PARAMS[algorithm].key, false, ['sign']);
  return { key, algorithm, keyObject };
}

/** A public key given as SPKI PEM or a Node key object, checked to be one we accept. */
export function toX509PublicKey(input: string | KeyObject): x509.PublicKey {
  let keyObject: KeyObject;
  try {
    keyObject = typeof input === 'string' ? createPublicKey(input) : input.type === 'private' ? createPublicKey(input) : input;
  } catch (err) {
    throw new InternalError('CP_PKI_KEY_PUBLIC_UNREADABLE', { cause: err });
  }
  if (keyObject.type !== 'public') throw new InternalError('CP_PKI_KEY_NOT_PUBLIC');
  keyAlgorithmOf(keyObject);
  return new x509.PublicKey(keyObject.export({ type: 'spki', format: 'der' }));
}

/** Same check for a key taken from a CSR or certificate. */
export function assertSupportedPublicKey(publicKey: x509.PublicKey): void {
  keyAlgorithmOf(createPublicKey({ key: Buffer.from(publicKey.rawData), format: 'der', type: 'spki' }));
}

/**
 * A random positive 128-bit serial. The top bit is cleared so the DER INTEGER needs no sign
 * byte, and the next bit is set so the encoding never starts with a zero byte (which would
 * be non-minimal DER that strict parsers reject) and the serial always prints as 32 hex digits.
 */
export function randomSerialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex').toUpperCase();
}

/** Node prints serials in upper-case hex, possibly with leading zeros; one canonical form for comparisons. */
export function normalizeSerialNumber(serial: string): string {
  const hex = serial
    .replace(/[^0-9a-fA-F]/g, '')
    .toUpperCase()
    .replace(/^0+(?=.)/, '');
  return hex;
}
