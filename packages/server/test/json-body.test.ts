import { describe, expect, it } from 'vitest';
import { jsonNestingDepth, parseJsonBody } from '@controlplane/server';

/** The plain character-by-character scan the fast one must agree with. */
function referenceDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') max = Math.max(max, ++depth);
    else if (c === '}' || c === ']') depth--;
  }
  return max;
}

describe('jsonNestingDepth', () => {
  it('counts nesting, not brackets inside strings, however their quotes are escaped', () => {
    expect(jsonNestingDepth('{"a":[1,{"b":[]}]}')).toBe(4);
    expect(jsonNestingDepth('{"a":"[[[{{{"}')).toBe(1);
    expect(jsonNestingDepth(String.raw`{"a":"\"[[[\""}`)).toBe(1);
    expect(jsonNestingDepth(String.raw`{"a":"\\","b":[[]]}`)).toBe(3); // an escaped backslash ends before the quote
    expect(jsonNestingDepth(String.raw`{"a":"\\\"[[","b":[]}`)).toBe(2);
    expect(jsonNestingDepth('[[["unterminated [[[[')).toBe(3);
    expect(jsonNestingDepth('[]'.repeat(3) + '['.repeat(70), 64)).toBe(65);
  });

  it('agrees with a character-by-character scan on random texts', () => {
    const alphabet = ['{', '}', '[', ']', '"', '\\', 'a', ',', ':', ' '];
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 5000; n++) {
      const text = Array.from({ length: Math.floor(next() * 60) }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
      expect(jsonNestingDepth(text), text).toBe(referenceDepth(text));
    }
  });
});

describe('parseJsonBody', () => {
  it('refuses a body nested deeper than the limit before parsing it', () => {
    expect(() => parseJsonBody('['.repeat(65) + ']'.repeat(65), 64)).toThrow(expect.objectContaining({ code: 'JSON_TOO_DEEP' }));
    expect(parseJsonBody('['.repeat(64) + ']'.repeat(64), 64)).toBeInstanceOf(Array);
  });

  it('refuses prototype-pollution keys and malformed or empty bodies', () => {
    expect(() => parseJsonBody('{"__proto__":{"x":1}}', 64)).toThrow(expect.objectContaining({ code: 'FORBIDDEN_KEY' }));
    expect(() => parseJsonBody('{"a":', 64)).toThrow(expect.objectContaining({ code: 'MALFORMED_JSON' }));
    expect(() => parseJsonBody('  ', 64)).toThrow(expect.objectContaining({ code: 'MALFORMED_JSON' }));
  });
});

describe('parseJsonBody and strings PostgreSQL cannot hold', () => {
  const refused = (text: string) => {
    try {
      parseJsonBody(text, 64);
    } catch (err) {
      return err as { code: string; details: Array<{ path?: string[]; code?: string; message: string }> };
    }
    throw new Error('accepted');
  };

  it('names every NUL and unpaired surrogate, in values and keys, by path', () => {
    const err = refused('{"a":["\\u0000",{"b\\ud800":"\\udfff"}],"ok":"\\ud83d\\ude00"}');
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.details.map((d) => d.path)).toEqual([
      ['a', '0'],
      ['a', '1', 'b\ufffd'],
      ['a', '1', 'b\ufffd'],
    ]);
    expect(err.details.every((d) => d.code === 'unstorable_character')).toBe(true);
  });

  it('keeps surrogate pairs, other control characters, and escaped backslashes before a u', () => {
    expect(parseJsonBody('{"e":"\\ud83d\\ude00","c":"\\u0001","s":"\\\\u0000"}', 64)).toEqual({
      e: '\u{1F600}',
      c: '\u0001',
      s: '\\u0000',
    });
  });

  it('bounds what it sends back: at most 20 details, key segments cut at 1024 characters', () => {
    const many = JSON.stringify(Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, '\u0000'])));
    expect(refused(many).details).toHaveLength(20);
    const longKey = refused(JSON.stringify({ ['x'.repeat(5000) + '\u0000']: 1 }));
    expect(longKey.details[0]!.path![0]!.length).toBe(1024);
  });
});
