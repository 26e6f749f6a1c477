import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { InternalError, canonicalJson } from '@controlplane/contracts';
import { blindIndex } from './blind-index.js';
import type { DataKey } from './data-keys.js';
import type { Keyring } from './keyring.js';

/**
 * Where an encrypted value lives. All four parts are authenticated with the ciphertext, so a value
 * copied to another tenant, table, row or field does not decrypt.
 */
export interface FieldAad {
  readonly tenantId: string;
  readonly table: string;
  readonly rowId: string;
  readonly field: string;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** What a field ciphertext decrypts to: bytes stay bytes, strings stay strings, JSON round-trips. */
export type FieldValue = Buffer | JsonValue;

export const FIELD_CIPHERTEXT_PREFIX = 'cpenc:v1:';
const VERSION = 'cpenc:v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
// IV: 12 bytes = 16 base64url chars. Body: at least the type byte and the 16-byte tag = 23 chars.
const FORMAT = /^cpenc:v1:([A-Za-z0-9_-]{1,64}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]{23,})$/;

/** First plaintext byte: how to turn the decrypted bytes back into the value that was encrypted. */
const ValueType = { Bytes: 0, Utf8String: 1, Json: 2 } as const;

/** Whether a stored value is a field ciphertext (by format; it says nothing about whether it decrypts). */
export function isEncrypted(value: unknown): value is string {
  return typeof value === 'string' && FORMAT.test(value);
}

/** The data key a field ciphertext was made with, so a rotation job can find values still on old keys. */
export function dataKeyIdOf(ciphertext: string): string | undefined {
  return FORMAT.exec(ciphertext)?.[1];
}

/**
 * Field-level envelope encryption: AES-256-GCM under the tenant's current data key, a fresh 96-bit IV
 * per value, and the row's identity as associated data. Output: `cpenc:v1:<dataKeyId>:<iv>:<ct+tag>`.
 */
export class FieldCipher {
  constructor(readonly keyring: Keyring) {}

  async encrypt(value: FieldValue, aad: FieldAad): Promise<string> {
    checkAad(aad);
    return seal(encodeValue(value), await this.keyring.currentDataKey(aad.tenantId), aad);
  }

  /** Throws a CP_CRYPTO_DECRYPT_* error (never returning partial plaintext) if the value was altered or moved. */
  async decrypt(ciphertext: string, aad: FieldAad): Promise<FieldValue> {
    checkAad(aad);
    const { plaintext } = await this.open(ciphertext, aad);
    return decodeValue(plaintext, aad);
  }

  /**
   * The same value under the tenant's current data key, or the input unchanged if it already is
   * (after checking it still decrypts, so a rotation job never launders a tampered value).
   */
  async reencrypt(ciphertext: string, aad: FieldAad): Promise<string> {
    checkAad(aad);
    const { plaintext, keyId } = await this.open(ciphertext, aad);
    const current = await this.keyring.currentDataKey(aad.tenantId);
    if (current.id === keyId) return ciphertext;
    return seal(plaintext, current, aad);
  }

  /** Blind index of a value for the tenant (see `blindIndex`); pass a scope to keep columns apart. */
  async blindIndex(tenantId: string, value: unknown, scope = ''): Promise<string> {
    return blindIndex(await this.keyring.blindIndexKey(tenantId, scope), value);
  }

  private async open(ciphertext: string, aad: FieldAad): Promise<{ plaintext: Buffer; keyId: string }> {
    const where = `${aad.table}.${aad.field} of row ${aad.rowId}`;
    const match = typeof ciphertext === 'string' ? FORMAT.exec(ciphertext) : null;
    if (!match)
      throw new InternalError('CP_CRYPTO_DECRYPT_MALFORMED', { params: { where, problem: 'the value is not a cpenc:v1 ciphertext' } });
    const [, keyId = '', ivText = '', bodyText = ''] = match;
    const iv = strictBase64url(ivText);
    const body = strictBase64url(bodyText);
    if (!iv || !body || iv.length !== IV_BYTES || body.length < TAG_BYTES + 1) {
      throw new InternalError('CP_CRYPTO_DECRYPT_MALFORMED', {
        params: { where, problem: 'the IV or ciphertext is not canonical base64url of the right length' },
      });
    }
    const key = await this.keyring.dataKey(aad.tenantId, keyId);
    if (!key) {
      throw new InternalError('CP_CRYPTO_DECRYPT_UNKNOWN_DATA_KEY', { params: { where, keyId } });
    }
    const decipher = createDecipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aadBytes(keyId, aad));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    try {
      // update() output is only released after final() has verified the tag.
      const plaintext = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
      return { plaintext, keyId };
    } catch (err) {
      throw new InternalError('CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED', { params: { where }, cause: err });
    }
  }
}

function seal(plaintext: Buffer, key: DataKey, aad: FieldAad): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aadBytes(key.id, aad));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return `${VERSION}:${key.id}:${iv.toString('base64url')}:${body.toString('base64url')}`;
}

/**
 * Canonical JSON of an array cannot be produced by two different part lists (every string is quoted
 * and escaped), which a plain separator-joined string could not promise.
 */
function aadBytes(keyId: string, aad: FieldAad): Buffer {
  return Buffer.from(canonicalJson([VERSION, keyId, aad.tenantId, aad.table, aad.rowId, aad.field]), 'utf8');
}

function checkAad(aad: FieldAad): void {
  for (const part of ['tenantId', 'table', 'rowId', 'field'] as const) {
    const value = aad?.[part];
    if (typeof value !== 'string' || value.length === 0) throw new TypeError(`aad.${part} must be a non-empty string`);
  }
}

function encodeValue(value: FieldValue): Buffer {
  if (value instanceof Uint8Array) return Buffer.concat([Buffer.of(ValueType.Bytes), value]);
  if (typeof value === 'string') return Buffer.concat([Buffer.of(ValueType.Utf8String), Buffer.from(value, 'utf8')]);
  if (value === undefined) throw new TypeError('undefined cannot be encrypted; store no value instead');
  // canonicalJson refuses NaN, Infinity, cycles and class instances rather than changing them silently.
  return Buffer.concat([Buffer.of(ValueType.Json), Buffer.from(canonicalJson(value), 'utf8')]);
}

function decodeValue(plaintext: Buffer, aad: FieldAad): FieldValue {
  const rest = plaintext.subarray(1);
  switch (plaintext[0]) {
    case ValueType.Bytes:
      return Buffer.from(rest);
    case ValueType.Utf8String:
      return rest.toString('utf8');
    case ValueType.Json:
      return JSON.parse(rest.toString('utf8')) as JsonValue;
    default:
      throw new InternalError('CP_CRYPTO_DECRYPT_MALFORMED', {
        params: { where: `${aad.table}.${aad.field} of row ${aad.rowId}`, problem: 'unknown value type in a v1 ciphertext' },
      });
  }
}

/** Node's decoder skips characters it does not like; a re-encoding check refuses any non-canonical text. */
function strictBase64url(text: string): Buffer | undefined {
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}
