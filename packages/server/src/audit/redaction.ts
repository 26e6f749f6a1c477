/**
 * Turns an event's details into the JSON value that is hashed and stored: credentials and
 * payloads redacted, and every value made to survive a round trip through PostgreSQL unchanged.
 * The second part matters as much as the first: the hash is computed over this value before the
 * insert and recomputed over what is read back, so anything jsonb or text would alter (a NUL, a
 * lone surrogate, a Date, a class instance) would later look like tampering.
 */

export const REDACTED = '[REDACTED]';
export const TRUNCATED = '[TRUNCATED]';

/** Bounds that keep one event from bloating the log; far above what an audit detail needs. */
export const DETAIL_LIMITS = Object.freeze({ depth: 16, stringLength: 4096, keyLength: 256, arrayLength: 1000, keys: 1000 });

// Keys are compared lower-cased with separators removed, so `join_token`, `Join-Token` and
// `joinToken` are one key.
const SENSITIVE_KEYS = new Set(['authorization', 'proxyauthorization', 'cookie', 'setcookie', 'payload', 'payloads', 'result', 'results']);
// Suffixes catch the variants (`accessToken`, `x-api-key`, `resultSignature`, `caKeyPem`) without
// also hiding identifiers such as `tokenId` or `apiKeyId`, which an audit trail needs.
const SENSITIVE_SUFFIXES = ['token', 'tokens', 'apikey', 'signature', 'keypem', 'credential', 'credentials'];
const SENSITIVE_PARTS = ['secret', 'password', 'passwd', 'passphrase', 'privatekey'];

function normaliseKey(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

export function isSensitiveKey(key: string): boolean {
  const k = normaliseKey(key);
  if (SENSITIVE_KEYS.has(k)) return true;
  if (SENSITIVE_SUFFIXES.some((s) => k.endsWith(s))) return true;
  return SENSITIVE_PARTS.some((p) => k.includes(p));
}

// A credential can arrive under an innocent key (`value`, `header`); these shapes are never audit detail.
const SENSITIVE_VALUE = /^\s*(bearer|basic)\s+\S|-----BEGIN [A-Z ]*PRIVATE KEY-----/i;

/**
 * A string PostgreSQL stores and returns unchanged: NUL (refused by text and jsonb) and lone
 * UTF-16 surrogates (replaced by U+FFFD when encoded as UTF-8) become U+FFFD here, before hashing.
 */
export function storableString(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

function truncate(value: string, max: number): string {
  if (value.length <= max) return value;
  // Cutting between the halves of a surrogate pair would leave a lone surrogate.
  let end = max;
  const code = value.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${value.slice(0, end)}…${TRUNCATED}`;
}

function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  // Plain assignment of `__proto__` would change the prototype instead of adding a key.
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function clean(value: unknown, depth: number, seen: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
      return SENSITIVE_VALUE.test(value) ? REDACTED : truncate(storableString(value), DETAIL_LIMITS.stringLength);
    case 'number':
      // JSON has no NaN or Infinity; JSON.stringify would write null, so be explicit.
      return Number.isFinite(value) ? value : null;
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    default:
      break;
  }
  if (value === null) return null;
  const obj = value as object;
  if (depth >= DETAIL_LIMITS.depth) return TRUNCATED;
  if (seen.has(obj)) return '[CIRCULAR]';
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? null : obj.toISOString();
  // Raw bytes are never audit detail, and base64 of a key or payload would slip past key redaction.
  if (ArrayBuffer.isView(obj) || obj instanceof ArrayBuffer) return `[BINARY ${obj.byteLength} bytes]`;
  if (obj instanceof Error) return clean({ name: obj.name, message: obj.message, ...codeOf(obj) }, depth, seen);
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      const items = obj.slice(0, DETAIL_LIMITS.arrayLength).map((item) => {
        const cleaned = clean(item, depth + 1, seen);
        return cleaned === undefined ? null : cleaned;
      });
      if (obj.length > DETAIL_LIMITS.arrayLength) items.push(`${TRUNCATED} ${obj.length - DETAIL_LIMITS.arrayLength} more`);
      return items;
    }
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return clean(toJSON.call(obj), depth + 1, seen);
    if (obj instanceof Map) return clean(Object.fromEntries(obj), depth, seen);
    if (obj instanceof Set) return clean([...obj], depth, seen);
    const out: Record<string, unknown> = {};
    const keys = Object.keys(obj);
    for (const key of keys.slice(0, DETAIL_LIMITS.keys)) {
      const safeKey = truncate(storableString(key), DETAIL_LIMITS.keyLength);
      const raw = (obj as Record<string, unknown>)[key];
      if (isSensitiveKey(key)) {
        if (raw !== undefined) setOwn(out, safeKey, REDACTED);
        continue;
      }
      const cleaned = clean(raw, depth + 1, seen);
      if (cleaned !== undefined) setOwn(out, safeKey, cleaned);
    }
    if (keys.length > DETAIL_LIMITS.keys) setOwn(out, TRUNCATED, `${keys.length - DETAIL_LIMITS.keys} more keys`);
    return out;
  } finally {
    seen.delete(obj);
  }
}

function codeOf(err: Error): { code?: string } {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? { code } : {};
}

/**
 * The details as they are hashed and stored: a plain JSON object with sensitive keys' values
 * replaced by "[REDACTED]" at any depth (whatever the value: an object under `payload` is hidden
 * whole), credential-shaped strings redacted wherever they appear, and values JSON cannot hold
 * normalised. Never throws: a detail that cannot be represented is replaced, not allowed to make
 * the audited operation fail.
 */
export function redactAuditDetails(details: Record<string, unknown> | undefined | null): Record<string, unknown> {
  if (details === undefined || details === null) return {};
  const cleaned = clean(details, 0, new Set());
  if (cleaned !== null && typeof cleaned === 'object' && !Array.isArray(cleaned)) return cleaned as Record<string, unknown>;
  return { value: cleaned ?? null };
}
