/**
 * Builds every Redis key in the system. A key is `<prefix>:<part>:<part>…`; each part is escaped so
 * that it can never contain `:`, so the number of segments is fixed by the code, not by the data: a
 * tenant id like `t1:apikey` stays one segment (`t1%3Aapikey`) and cannot reach another tenant's
 * keys. The escape also covers glob characters (`*?[]\`), so patterns built here are safe for SCAN,
 * and braces, so data cannot pick a cluster hash slot. Escaping is percent-encoding of UTF-8 bytes
 * with `%` itself escaped, which keeps it injective: different parts always give different keys.
 */
export class RedisKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    if (!PREFIX_PATTERN.test(prefix)) {
      throw new RangeError(`Redis key prefix ${JSON.stringify(prefix)} must be segments of [A-Za-z0-9_.%-] separated by ':'`);
    }
    this.prefix = prefix;
  }

  key(...parts: KeyPart[]): string {
    if (parts.length === 0) throw new RangeError('a Redis key needs at least one part after the prefix');
    return `${this.prefix}:${parts.map(escapeKeyPart).join(':')}`;
  }

  /** A SCAN/KEYS pattern for every key under these parts (or under the prefix when none). */
  pattern(...parts: KeyPart[]): string {
    return parts.length === 0 ? `${this.prefix}:*` : `${this.key(...parts)}:*`;
  }

  /** Keys scoped further, e.g. `keys.child('tenant', tenantId)` for code that handles one tenant. */
  child(...parts: KeyPart[]): RedisKeys {
    return new RedisKeys(this.key(...parts));
  }
}

export type KeyPart = string | number;

const PREFIX_PATTERN = /^[A-Za-z0-9_.%-]+(?::[A-Za-z0-9_.%-]+)*$/;
const MAX_PART_BYTES = 512;

export function escapeKeyPart(part: KeyPart): string {
  let text: string;
  if (typeof part === 'number') {
    if (!Number.isSafeInteger(part)) throw new RangeError(`Redis key part ${part} is not a safe integer`);
    text = String(part);
  } else if (typeof part === 'string') {
    text = part;
  } else {
    throw new TypeError(`Redis key part must be a string or an integer, got ${typeof part}`);
  }
  // An empty part would make `a::b`, which reads as a different key shape.
  if (text.length === 0) throw new RangeError('Redis key part must not be empty');
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > MAX_PART_BYTES) throw new RangeError(`Redis key part is longer than ${MAX_PART_BYTES} bytes`);
  let out = '';
  for (const byte of bytes) {
    out += isSafeByte(byte) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const SAFE_CHAR = /^[A-Za-z0-9._-]$/;

function isSafeByte(byte: number): boolean {
  return byte < 0x80 && SAFE_CHAR.test(String.fromCharCode(byte));
}
