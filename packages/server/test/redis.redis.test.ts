// Redis against a real server (TEST_REDIS_URL): SCAN patterns, Lua scripts run by SHA, the token bucket and
// the client's connection handling. What needs no server is in redis.test.ts.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InternalError } from '@controlplane/contracts';
import { createRedis, loadLuaScripts, type LuaScript, packagedLuaScript, ScriptErrorCode, takeTokens } from '@controlplane/server';
import { createTestRedis, testRedisUrl, type TestRedis } from '../../../test/support/redis.js';

const withCode = (code: string) => expect.objectContaining({ name: 'InternalError', code });

let redis: TestRedis;

beforeAll(async () => {
  redis = await createTestRedis();
});

afterAll(async () => {
  await redis?.cleanup();
  // Every client this file opened must be closed by now.
  expect(process.getActiveResourcesInfo()).not.toContain('TCPSocketWrap');
});

describe('RedisKeys', () => {
  it('builds SCAN patterns that match only the literal part on a real server', async () => {
    const k = redis.keys;
    await redis.client.set(k.key('tenant', 't*', 'a'), '1');
    await redis.client.set(k.key('tenant', 't1', 'a'), '1');
    await redis.client.set(k.key('tenant', 't2', 'a'), '1');
    const [, found] = await redis.client.scan('0', 'MATCH', k.pattern('tenant', 't*'), 'COUNT', 1000);
    expect(found).toEqual([k.key('tenant', 't*', 'a')]);
  });
});

describe('Lua script loader', () => {
  describe('with scripts from a directory', () => {
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'cp-lua-'));
      // A unique comment gives a SHA the server has never cached, so the first call must take the NOSCRIPT path.
      await writeFile(
        join(dir, 'copy_value.lua'),
        `--[[\n  Copies a value. (${randomUUID()})\n  KEYS[1] source\n  KEYS[2] target\n  ARGV[1] suffix\n  returns the new value, or -1 when the source is missing\n]]\n` +
          `local v = redis.call('GET', KEYS[1])\nif not v then return -1 end\nv = v .. ARGV[1]\nredis.call('SET', KEYS[2], v)\nreturn v\n`,
      );
      await writeFile(join(dir, 'README.txt'), 'not a script');
    });

    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('learns the key count from the header and runs via EVALSHA with a NOSCRIPT fallback', async () => {
      const scripts = loadLuaScripts(dir);
      expect([...scripts.keys()]).toEqual(['copy_value']);
      const script = scripts.get('copy_value') as LuaScript;
      expect(script.numberOfKeys).toBe(2);
      expect(script.argv).toEqual(['suffix']);

      const [source, target] = [redis.keys.key('lua', 'source'), redis.keys.key('lua', 'target')];
      await redis.client.set(source, 'abc');
      expect(await redis.client.script('EXISTS', script.sha1)).toEqual([0]);
      expect(await script.run(redis.client, [source, target], ['!'])).toBe('abc!');
      expect(await redis.client.script('EXISTS', script.sha1)).toEqual([1]);
      expect(await script.run(redis.client, [source, target], ['?'])).toBe('abc?');
      expect(await redis.client.get(target)).toBe('abc?');
    });

    it('refuses a call with the wrong number of keys or arguments before reaching Redis', async () => {
      const script = loadLuaScripts(dir).get('copy_value') as LuaScript;
      await expect(script.run(redis.client, [redis.keys.key('only-one')], ['!'])).rejects.toThrow(/takes 2 keys/);
      await expect(script.run(redis.client, [redis.keys.key('a'), redis.keys.key('b')], [])).rejects.toThrow(/takes 1 arguments/);
    });

    it('turns a negative reply into an internal error with its code', async () => {
      const script = loadLuaScripts(dir).get('copy_value') as LuaScript;
      const err = await script
        .run(redis.client, [redis.keys.key('lua', 'missing'), redis.keys.key('lua', 't')], ['!'])
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InternalError);
      expect(err).toMatchObject({
        code: 'CP_REDIS_SCRIPT_INVALID_ARGUMENT',
        params: { script: 'copy_value', reply: ScriptErrorCode.InvalidArgument },
      });
    });
  });
});

describe('token bucket', () => {
  const T = 1_700_000_000_000;
  let n = 0;
  const bucket = () => redis.keys.key('bucket', `b${++n}`);

  it('allows capacity, then refuses with a positive retry time', async () => {
    const key = bucket();
    const opts = { capacity: 5, refillPerSecond: 1, nowMs: T };
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await takeTokens(redis.client, key, opts));
    expect(results.map((r) => [r.allowed, r.remaining, r.retryAfterMs])).toEqual([
      [true, 4, 0],
      [true, 3, 0],
      [true, 2, 0],
      [true, 1, 0],
      [true, 0, 0],
    ]);
    expect(await takeTokens(redis.client, key, opts)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 1000 });
  });

  it('refills over time and never beyond capacity', async () => {
    const key = bucket();
    const opts = { capacity: 3, refillPerSecond: 2 };
    for (let i = 0; i < 3; i++) expect((await takeTokens(redis.client, key, { ...opts, nowMs: T })).allowed).toBe(true);
    expect(await takeTokens(redis.client, key, { ...opts, nowMs: T + 250 })).toEqual({ allowed: false, remaining: 0, retryAfterMs: 250 });
    expect(await takeTokens(redis.client, key, { ...opts, nowMs: T + 499 })).toEqual({ allowed: false, remaining: 0, retryAfterMs: 1 });
    expect(await takeTokens(redis.client, key, { ...opts, nowMs: T + 500 })).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0 });
    expect(await takeTokens(redis.client, key, { ...opts, nowMs: T + 3_600_000 })).toEqual({
      allowed: true,
      remaining: 2,
      retryAfterMs: 0,
    });
  });

  it('takes a cost of several tokens and says how long until that many are back', async () => {
    const key = bucket();
    const opts = { capacity: 5, refillPerSecond: 4, cost: 3, nowMs: T };
    expect(await takeTokens(redis.client, key, opts)).toEqual({ allowed: true, remaining: 2, retryAfterMs: 0 });
    expect(await takeTokens(redis.client, key, opts)).toEqual({ allowed: false, remaining: 2, retryAfterMs: 250 });
  });

  it('does not credit the same interval twice when a caller clock lags', async () => {
    const key = bucket();
    const opts = { capacity: 2, refillPerSecond: 1 };
    await takeTokens(redis.client, key, { ...opts, nowMs: T + 10_000 });
    await takeTokens(redis.client, key, { ...opts, nowMs: T + 10_000 });
    expect((await takeTokens(redis.client, key, { ...opts, nowMs: T })).allowed).toBe(false);
    expect((await takeTokens(redis.client, key, { ...opts, nowMs: T + 10_500 })).allowed).toBe(false);
    expect((await takeTokens(redis.client, key, { ...opts, nowMs: T + 11_000 })).allowed).toBe(true);
  });

  it('gives two clients sharing one bucket one limit, even when they race', async () => {
    const other = await redis.connect();
    const key = bucket();
    const opts = { capacity: 10, refillPerSecond: 0.001, nowMs: T };
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => takeTokens(i % 2 === 0 ? redis.client : other, key, opts)));
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    expect((await takeTokens(other, key, opts)).allowed).toBe(false);
    expect((await takeTokens(redis.client, key, opts)).allowed).toBe(false);
  });

  it('lets an idle bucket expire once it would be full again', async () => {
    const key = bucket();
    await takeTokens(redis.client, key, { capacity: 10, refillPerSecond: 2, nowMs: T });
    const ttl = await redis.client.pttl(key);
    expect(ttl).toBeGreaterThan(5_000);
    expect(ttl).toBeLessThanOrEqual(6_000);
  });

  it('uses the Redis server clock when no time is passed', async () => {
    const key = bucket();
    const opts = { capacity: 1, refillPerSecond: 0.001 };
    expect((await takeTokens(redis.client, key, opts)).allowed).toBe(true);
    const refused = await takeTokens(redis.client, key, opts);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(900_000);
    const [seconds] = await redis.client.time();
    const ts = Number(await redis.client.hget(key, 'ts'));
    expect(Math.abs(ts - Number(seconds) * 1000)).toBeLessThan(5_000);
  });

  it('maps the script error codes', async () => {
    const key = bucket();
    await expect(takeTokens(redis.client, key, { capacity: 2, refillPerSecond: 1, cost: 3, nowMs: T })).rejects.toMatchObject({
      code: 'CP_REDIS_SCRIPT_COST_EXCEEDS_CAPACITY',
      params: { reply: ScriptErrorCode.CostExceedsCapacity },
    });
    const script = packagedLuaScript('token_bucket');
    for (const args of [
      ['x', 1, T, 1],
      [5, 0, T, 1],
      [5, 1, 'later', 1],
      [5, 1, T, -1],
      [5, 'nan', T, 1],
      [5, 'inf', T, 1],
    ]) {
      await expect(script.run(redis.client, [key], args)).rejects.toMatchObject({
        code: 'CP_REDIS_SCRIPT_INVALID_ARGUMENT',
        params: { reply: ScriptErrorCode.InvalidArgument },
      });
    }
    await expect(takeTokens(redis.client, key, { capacity: -1, refillPerSecond: 1 })).rejects.toThrow(RangeError);
    expect(await redis.client.exists(key)).toBe(0);
  });
});

describe('createRedis', () => {
  it('connects with the key prefix and closes cleanly', async () => {
    const connection = await createRedis({ url: testRedisUrl(), keyPrefix: redis.prefix, connectionName: 'create-redis-test' });
    try {
      expect(connection.keys.key('x')).toBe(`${redis.prefix}:x`);
      expect(await connection.client.ping()).toBe('PONG');
    } finally {
      await connection.close();
    }
    expect(connection.client.status).toBe('end');
    await connection.close();
  });

  it('fails at start-up with a clear error when the server is unreachable', async () => {
    const started = Date.now();
    await expect(createRedis({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 1_000 })).rejects.toThrow(withCode('CP_REDIS_CONNECT_FAILED'));
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('fails commands fast while disconnected and recovers after the server drops it', async () => {
    const errors: Error[] = [];
    const connection = await createRedis({ url: testRedisUrl(), keyPrefix: redis.prefix, onError: (e) => errors.push(e) });
    try {
      const id = await connection.client.client('ID');
      const closed = new Promise((resolve) => connection.client.once('close', resolve));
      await redis.client.client('KILL', 'ID', String(id));
      await closed;
      await expect(connection.client.ping()).rejects.toThrow();
      await new Promise((resolve) => connection.client.once('ready', resolve));
      expect(await connection.client.ping()).toBe('PONG');
    } finally {
      await connection.close();
    }
  });
});
