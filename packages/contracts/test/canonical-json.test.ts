import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InternalError, canonicalHash, canonicalJson, evidenceHash, verifyEvidencePacket } from '@controlplane/contracts';

const UNREPRESENTABLE = expect.objectContaining({ name: 'InternalError', code: 'CP_CANONICAL_JSON_UNREPRESENTABLE' });

describe('canonicalJson', () => {
  it('sorts keys at every depth and has no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 0, y: 'x' }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":"x","z":0}]},"b":1}');
  });

  it('is independent of insertion order', () => {
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
  });

  it('sorts by UTF-16 code units (RFC 8785)', () => {
    expect(canonicalJson({ '\u00e9': 1, z: 2, Z: 3, '10': 4, '9': 5 })).toBe('{"10":4,"9":5,"Z":3,"z":2,"\u00e9":1}');
  });

  it('serialises numbers and strings like JSON.stringify', () => {
    expect(canonicalJson([1e21, 0.1, -0, 'a"b\n', '\u2028'])).toBe('[1e+21,0.1,0,"a\\"b\\n","\u2028"]');
  });

  it('omits undefined object members but refuses undefined array items', () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(() => canonicalJson([1, undefined])).toThrow(InternalError);
    expect(() => canonicalJson([1, undefined])).toThrow(UNREPRESENTABLE);
  });

  it.each([
    ['NaN', { n: Number.NaN }],
    ['Infinity', { n: Number.POSITIVE_INFINITY }],
    ['-Infinity', [Number.NEGATIVE_INFINITY]],
    ['bigint', { n: 1n }],
    ['function', { f: () => 1 }],
    ['symbol', { s: Symbol('x') }],
    ['class instance', { m: new Map() }],
  ])('refuses %s with the path', (_name, value) => {
    expect(() => canonicalJson(value)).toThrow(UNREPRESENTABLE);
  });

  it('names the path of the offending value', () => {
    expect(() => canonicalJson({ a: [{ b: Number.NaN }] })).toThrow(/a\[0\]\.b/);
  });

  it('refuses cycles but allows shared references', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(() => canonicalJson(cyc)).toThrow(/cycle/);
  });

  it('hashes the canonical form with SHA-256', () => {
    const value = { b: [1, 2], a: 'x' };
    expect(canonicalHash(value)).toBe(createHash('sha256').update('{"a":"x","b":[1,2]}').digest('hex'));
  });

  it('evidence hash detects a changed item', () => {
    const items = [{ key: 'k', value: 1, source: 's', redacted: false }];
    const packet = { hash: evidenceHash(items), items };
    expect(verifyEvidencePacket(packet)).toBe(true);
    expect(verifyEvidencePacket({ ...packet, items: [{ ...items[0]!, value: 2 }] })).toBe(false);
  });
});
