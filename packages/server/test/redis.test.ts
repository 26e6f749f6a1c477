// Redis key building, Lua script headers and client options: everything about Redis that needs no server.
// The rest, against a real server, is in redis.redis.test.ts.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LUA_DIR,
  escapeKeyPart,
  loadLuaScripts,
  packagedLuaScript,
  parseLuaHeader,
  redisClientOptions,
  RedisKeys,
} from '@controlplane/server';

const withCode = (code: string) => expect.objectContaining({ name: 'InternalError', code });

describe('RedisKeys', () => {
  const keys = new RedisKeys('cp');

  it('joins the prefix and parts with colons', () => {
    expect(keys.key('tenant', 'acme', 'bucket', 7)).toBe('cp:tenant:acme:bucket:7');
    expect(keys.child('tenant', 'acme').key('bucket')).toBe('cp:tenant:acme:bucket');
    expect(keys.pattern('tenant', 'acme')).toBe('cp:tenant:acme:*');
    expect(keys.pattern()).toBe('cp:*');
  });

  it('keeps a part with a colon one segment, so a tenant id cannot reach another tenant', () => {
    const attacker = keys.key('tenant', 'acme:ratelimit', 'x');
    expect(attacker).toBe('cp:tenant:acme%3Aratelimit:x');
    expect(attacker.split(':')).toHaveLength(4);
    expect(attacker).not.toBe(keys.key('tenant', 'acme', 'ratelimit', 'x'));
    expect(keys.child('tenant', 'acme:x').key('k').startsWith('cp:tenant:acme:')).toBe(false);
  });

  it('escapes glob, hash-tag, space and non-ASCII characters and stays injective', () => {
    const tricky = ['a*', 'a?', '[ab]', 'a\\b', '{tag}', 'a b', 'é', '%3A', ':', '%', 'a%25', '::1', '2001:db8::1', '\n', 'a.b-c_d'];
    const escaped = tricky.map(escapeKeyPart);
    for (const part of escaped) expect(part).toMatch(/^[A-Za-z0-9._%-]+$/);
    expect(new Set(escaped).size).toBe(tricky.length);
    expect(escapeKeyPart('é')).toBe('%C3%A9');
    expect(escapeKeyPart('%')).toBe('%25');
    expect(escapeKeyPart('a.b-c_d')).toBe('a.b-c_d');
  });

  it('refuses empty, non-integer and non-string parts and malformed prefixes', () => {
    expect(() => keys.key('')).toThrow(RangeError);
    expect(() => keys.key()).toThrow(RangeError);
    expect(() => keys.key(1.5)).toThrow(RangeError);
    expect(() => keys.key(Number.NaN)).toThrow(RangeError);
    expect(() => keys.key({} as unknown as string)).toThrow(TypeError);
    expect(() => keys.key('x'.repeat(513))).toThrow(RangeError);
    for (const prefix of ['', 'a::b', ':a', 'a:', 'a b', 'a*', '{a}']) expect(() => new RedisKeys(prefix)).toThrow(RangeError);
    expect(new RedisKeys('test:abc-1').prefix).toBe('test:abc-1');
  });
});

describe('Lua script loader', () => {
  it('reads KEYS and ARGV from the header of the packaged token bucket', async () => {
    const source = await readFile(new URL('token_bucket.lua', DEFAULT_LUA_DIR), 'utf8');
    expect(parseLuaHeader(source)).toEqual({ keys: ['bucket'], argv: ['capacity', 'refillPerSecond', 'nowMs', 'cost'] });
    const script = packagedLuaScript('token_bucket');
    expect(script.numberOfKeys).toBe(1);
    expect(loadLuaScripts().get('token_bucket')?.sha1).toBe(script.sha1);
  });

  it('rejects scripts whose header is missing, has gaps, or under-declares what the body uses', () => {
    expect(() => parseLuaHeader('return 1', 'bare')).toThrow(withCode('CP_REDIS_LUA_HEADER_INVALID'));
    expect(() => parseLuaHeader('--[[\n KEYS[1] a\n KEYS[3] c\n]]\nreturn 1', 'gap')).toThrow(/KEYS\[3\] where KEYS\[2\]/);
    expect(() => parseLuaHeader('--[[\n KEYS[1] a\n]]\nreturn redis.call("GET", KEYS[2])', 'liar')).toThrow(/uses KEYS\[2\]/);
    expect(() => parseLuaHeader('--[[\n ARGV[1] a\n]]\nreturn ARGV[2]', 'liar')).toThrow(/uses ARGV\[2\]/);
  });
});

describe('redisClientOptions', () => {
  it('builds TLS options for rediss:// and refuses TLS settings on a plaintext URL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cp-redis-tls-'));
    try {
      const caFile = join(dir, 'ca.pem');
      await writeFile(caFile, '-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n');
      const options = redisClientOptions({ url: 'rediss://user:p%40ss@redis.internal:6380/3', tls: { caFile } });
      expect(options).toMatchObject({
        host: 'redis.internal',
        port: 6380,
        db: 3,
        username: 'user',
        password: 'p@ss',
        enableOfflineQueue: false,
      });
      expect(options.tls).toMatchObject({ rejectUnauthorized: true, servername: 'redis.internal' });
      expect(String(options.tls?.ca)).toContain('not really');
      expect(redisClientOptions({ url: 'rediss://10.0.0.5' }).tls).toMatchObject({ rejectUnauthorized: true });
      expect(redisClientOptions({ url: 'redis://127.0.0.1' }).tls).toBeUndefined();

      expect(() => redisClientOptions({ url: 'redis://redis.internal', tls: { caFile } })).toThrow(
        withCode('CP_REDIS_CONFIG_TLS_WITH_PLAINTEXT_URL'),
      );
      expect(() => redisClientOptions({ url: 'rediss://redis.internal', tls: { caFile: join(dir, 'missing.pem') } })).toThrow(
        /cannot read Redis TLS CA file/,
      );
      expect(() => redisClientOptions({ url: 'rediss://redis.internal', tls: { certFile: caFile } })).toThrow(/set together/);
      expect(() => redisClientOptions({ url: 'http://redis.internal' })).toThrow(withCode('CP_REDIS_CONFIG_URL_INVALID'));
      expect(() => redisClientOptions({ url: 'redis://host/zero' })).toThrow(withCode('CP_REDIS_CONFIG_URL_INVALID'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
