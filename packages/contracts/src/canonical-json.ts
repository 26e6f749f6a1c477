import * as nodeCrypto from 'node:crypto';
import { InternalError } from './internal-error.js';

/**
 * Canonical JSON: object keys sorted by UTF-16 code units, no whitespace, numbers and strings
 * serialised as ECMAScript JSON.stringify does (the RFC 8785 / JCS rules for everything we emit).
 * Values JSON cannot represent faithfully (NaN, ±Infinity, bigint, functions, symbols, undefined
 * inside arrays, cycles) are refused (CP_CANONICAL_JSON_UNREPRESENTABLE) rather than silently changed,
 * because a hash over a value that another implementation would serialise differently proves nothing.
 */

/**
 * A refusal on its way up: each level it passes adds its key, so the path is only built when a
 * value is refused (building it for every member would cost more than the serialisation).
 */
class Refusal {
  readonly segments: (string | number)[] = [];
  constructor(readonly reason: string) {}

  within(segment: string | number): Refusal {
    this.segments.push(segment);
    return this;
  }

  path(): string {
    let path = '';
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const s = this.segments[i]!;
      path += typeof s === 'number' ? `[${s}]` : path ? `.${s}` : s;
    }
    return path;
  }
}

const within = (err: unknown, segment: string | number): unknown => (err instanceof Refusal ? err.within(segment) : err);

export function canonicalJson(value: unknown): string {
  try {
    return write(value, []);
  } catch (err) {
    if (err instanceof Refusal) {
      throw new InternalError('CP_CANONICAL_JSON_UNREPRESENTABLE', { params: { problem: err.reason, path: err.path() || '<root>' } });
    }
    throw err;
  }
}

/** `ancestors`: the objects and arrays being written, outermost first (a cycle returns to one). */
function write(value: unknown, ancestors: object[]): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Refusal(`${String(value)} is not representable in JSON`);
      // Finite numbers print as JSON.stringify prints them (-0 as 0).
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      break;
    default:
      throw new Refusal(`a ${typeof value} is not representable in JSON`);
  }
  // Linear, but the chain is as short as the value is deep, and cheaper than a Set for the
  // shallow values that are hashed all the time.
  if (ancestors.includes(value)) throw new Refusal('a cycle is not representable in JSON');
  if (Array.isArray(value)) {
    ancestors.push(value);
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (item === undefined) throw new Refusal('undefined is not representable in JSON').within(i);
      try {
        out += i === 0 ? write(item, ancestors) : `,${write(item, ancestors)}`;
      } catch (err) {
        throw within(err, i);
      }
    }
    ancestors.pop();
    return `${out}]`;
  }
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) throw new Refusal('only plain objects are representable in canonical JSON');
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  ancestors.push(obj);
  let out = '{';
  for (const key of keys) {
    const member = obj[key];
    if (member === undefined) continue;
    try {
      out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${write(member, ancestors)}`;
    } catch (err) {
      throw within(err, key);
    }
  }
  ancestors.pop();
  return `${out}}`;
}

// crypto.hash (Node 20.12+) hashes a small input without building a Hash object: about three
// times faster for the short texts hashed on every request.
const oneShot = (nodeCrypto as { hash?: (algorithm: string, data: string | Buffer, encoding: 'hex') => string }).hash;

/** SHA-256 (lower-case hex) of a string (as UTF-8) or bytes. */
export function sha256Hex(data: string | Buffer): string {
  if (oneShot) return oneShot('sha256', data, 'hex');
  return nodeCrypto.createHash('sha256').update(data).digest('hex');
}

/** SHA-256 (hex) of the canonical JSON of a value. */
export function canonicalHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
