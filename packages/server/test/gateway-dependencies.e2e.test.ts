// The gateway's own dependencies taken away under it: a private Redis server killed and started
// again, and the way to PostgreSQL cut (a TCP proxy in front of the real server) and restored.
// While a dependency is down, every authenticated request is refused fast and honestly — 503
// SERVICE_UNAVAILABLE, retryable, with Retry-After, naming nothing internal — never a 401 (a
// valid key is not a wrong key), never a 5xx without an envelope, never a crash; health says
// unhealthy; and when the dependency returns the gateway serves again without a restart.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase, createRedis } from '@controlplane/server';
import { createGatewayHarness, expectNoInternals, type GatewayHarness, type Reply } from './support/gateway-harness.js';
import { startPrivateRedis } from './support/redis-server.js';

/** A TCP forwarder that can be cut (every connection dropped, new ones refused) and restored. */
class CuttableProxy {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function expectUnavailable(res: Reply): void {
  expect(res.status).toBe(503);
  expect(res.body.error).toMatchObject({
    code: 'SERVICE_UNAVAILABLE',
    category: 'SERVICE_UNAVAILABLE',
    retryable: true,
    service: 'gateway',
  });
  expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expectNoInternals(res);
}

/** Health names its checks (that is its contract) but says nothing about why one failed. */
function expectHealthWithoutDetail(res: Reply): void {
  for (const leak of ['127.0.0.1', 'ECONNREFUSED', 'ECONNRESET', 'timeout', 'Error', 'stack'])
    expect(res.text, `leaks ${leak}`).not.toContain(leak);
}

async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) {
    if (await check()) return true;
  }
  return false;
}

describe('gateway with its own dependencies down', () => {
  let h: GatewayHarness;

  beforeAll(async () => {
    h = await createGatewayHarness();
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('Redis killed: 503 SERVICE_UNAVAILABLE with Retry-After and no internals; health unhealthy; serves again when Redis is back', async () => {
    const redis = await startPrivateRedis();
    const conn = await createRedis({ url: redis.url, keyPrefix: 'gwdeps', connectTimeoutMs: 500, commandTimeoutMs: 500 });
    try {
      const g = await h.startGateway(
        { breakerThreshold: 2, breakerHalfOpenAfterMs: 500 },
        { redisConnection: { client: conn.client, keys: conn.keys } },
      );
      const id = await h.seedJob('ta');
      expect((await h.client.call(g.url, 'GET', `/jobs/${id}`, { key: h.keys.viewer })).status).toBe(200);

      await redis.kill();
      // The first calls fail on the dead connection, the later ones on the open breaker: all alike.
      for (let i = 0; i < 4; i++) expectUnavailable(await h.client.call(g.url, 'GET', `/jobs/${id}`, { key: h.keys.viewer }));
      const submit = await h.client.call(g.url, 'POST', '/jobs', {
        key: h.keys.submitter,
        body: {
          id: crypto.randomUUID(),
          type: 'echo',
          payload: { type: 'echo', data: {} },
          metadata: { source: 't', createdAt: new Date().toISOString() },
        },
      });
      expectUnavailable(submit);
      // Without a key the answer is still 503 (the per-address limit needs Redis), not a crash.
      expectUnavailable(await h.client.call(g.url, 'GET', `/jobs/${id}`));
      const health = await h.client.call(g.url, 'GET', '/health');
      expect(health.status).toBe(503);
      expect(health.body.status).toBe('unhealthy');
      expectHealthWithoutDetail(health);

      await redis.start();
      const back = await eventually(
        async () => (await h.client.call(g.url, 'GET', `/jobs/${id}`, { key: h.keys.viewer })).status === 200,
        15_000,
      );
      expect(back).toBe(true);
      expect((await h.client.call(g.url, 'GET', '/health')).status).toBe(200);
    } finally {
      // A client caught between reconnect attempts must not hold the test past its result.
      await Promise.race([conn.close(), sleep(3_000).then(() => conn.client.disconnect())]);
      await redis.stop();
    }
  });

  it('PostgreSQL unreachable: a valid key gets 503, not 401; no internals; serves again once the database is back', async () => {
    const target = new URL(h.tdb.url);
    const proxy = new CuttableProxy({ host: target.hostname, port: Number(target.port || 5432) });
    await proxy.start();
    const viaProxy = new URL(h.tdb.url);
    viaProxy.port = String(proxy.port);
    const db = createPostgresDatabase({
      connectionString: viaProxy.toString(),
      maxConnections: 2,
      connectTimeoutMs: 1_000,
      statementTimeoutMs: 2_000,
      applicationName: 'gateway-deps',
    });
    try {
      const g = await h.startGateway({ breakerThreshold: 2, breakerHalfOpenAfterMs: 500 }, { db, redisScope: 'pg-down' });
      const id = await h.seedJob('ta');
      expect((await h.client.call(g.url, 'GET', `/jobs/${id}`, { key: h.keys.viewer })).status).toBe(200);

      await proxy.cut();
      for (let i = 0; i < 4; i++) expectUnavailable(await h.client.call(g.url, 'GET', `/jobs/${id}`, { key: h.keys.viewer }));
      // A wrong key cannot be told from a right one while keys cannot be looked up: same 503.
      expectUnavailable(
        await h.client.call(g.url, 'GET', `/jobs/${id}`, { key: { ...h.keys.viewer, key: `${h.keys.viewer.key.slice(0, -4)}AAAA` } }),
      );
      // Routes that need no key keep answering.
      expect((await h.client.call(g.url, 'GET', `/jobs/${id}`)).status).toBe(401);
      const health = await h.client.call(g.url, 'GET', '/health');
      expect(health.status).toBe(503);
      expectHealthWithoutDetail(health);

      await proxy.start();
      const back = await eventually(
        async () => (await h.client.call(g.url, 'GET', `/jobs/${id}`, { key: h.keys.viewer })).status === 200,
        15_000,
      );
      expect(back).toBe(true);
    } finally {
      await proxy.cut();
      await db.close();
    }
  });
});
