import { createHash } from 'node:crypto';

/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers and strings
 * serialised as ECMAScript JSON.stringify does (the RFC 8785 / JCS rules for everything we emit).
 * Values JSON cannot represent faithfully (NaN, ±Infinity, bigint, functions, symbols, undefined
 * inside arrays, cycles) are refused rather than silently changed, because a hash over a value that
 * another implementation would serialise differently proves nothing.
 */
export class CanonicalJsonError extends Error {
  constructor(
    message: string,
    readonly path: string,
  ) {
    super(`${message} at ${path || '<root>'}`);
    this.name = 'CanonicalJsonError';
  }
}

export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, '', out, new Set());
  return out.join('');
}

function write(value: unknown, path: string, out: string[], seen: Set<object>): void {
  if (value === null) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${String(value)} is not representable in JSON`, path);
      // -0 serialises as 0, as JSON.stringify does.
      out.push(JSON.stringify(value));
      return;
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(`a ${typeof value} is not representable in JSON`, path);
  }
  const obj = value as object;
  if (seen.has(obj)) throw new CanonicalJsonError('a cycle is not representable in JSON', path);
  seen.add(obj);
  if (Array.isArray(obj)) {
    out.push('[');
    obj.forEach((item, i) => {
      if (i > 0) out.push(',');
      if (item === undefined) throw new CanonicalJsonError('undefined is not representable in JSON', `${path}[${i}]`);
      write(item, `${path}[${i}]`, out, seen);
    });
    out.push(']');
  } else {
    if (obj instanceof Date) {
      out.push(JSON.stringify(obj.toISOString()));
      seen.delete(obj);
      return;
    }
    const proto = Object.getPrototypeOf(obj) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      throw new CanonicalJsonError('only plain objects are representable in canonical JSON', path);
    }
    const keys = Object.keys(obj)
      .filter((k) => (obj as Record<string, unknown>)[k] !== undefined)
      .sort();
    out.push('{');
    keys.forEach((k, i) => {
      if (i > 0) out.push(',');
      out.push(JSON.stringify(k), ':');
      write((obj as Record<string, unknown>)[k], path ? `${path}.${k}` : k, out, seen);
    });
    out.push('}');
  }
  seen.delete(obj);
}

/** SHA-256 (hex) of the canonical JSON of a value. */
export function canonicalHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex');
}
