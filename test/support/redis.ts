// A Redis client per test suite with its own key prefix, so suites running in parallel against one
// server never see each other's keys, and cleanup deletes exactly what the suite wrote.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { createRedis, type RedisConnection, type RedisKeys } from '@controlplane/server';

export interface TestRedis {
  url: string;
  client: Redis;
  /** Unique to this TestRedis; every key the test writes must be built from `keys`. */
  prefix: string;
  keys: RedisKeys;
  /** Another client on the same server and prefix (closed by cleanup). */
  connect(): Promise<Redis>;
  /** Deletes every key under the prefix and closes every client this TestRedis opened. */
  cleanup(): Promise<void>;
}

export function testRedisUrl(): string {
  return process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

export async function createTestRedis(): Promise<TestRedis> {
  const url = testRedisUrl();
  const prefix = `test:${process.pid}-${randomBytes(6).toString('hex')}`;
  const open = (name: string) => createRedis({ url, keyPrefix: prefix, connectionName: `${prefix.replace(':', '-')}-${name}` });
  const main = await open('main');
  const extra: RedisConnection[] = [];
  return {
    url,
    client: main.client,
    prefix,
    keys: main.keys,
    async connect() {
      const connection = await open(`extra${extra.length + 1}`);
      extra.push(connection);
      return connection.client;
    },
    async cleanup() {
      try {
        let cursor = '0';
        do {
          const [next, found] = await main.client.scan(cursor, 'MATCH', main.keys.pattern(), 'COUNT', 500);
          if (found.length > 0) await main.client.unlink(...found);
          cursor = next;
        } while (cursor !== '0');
      } finally {
        await Promise.all([main, ...extra].map((c) => c.close()));
      }
    },
  };
}
