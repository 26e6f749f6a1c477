// The embedded mode of `controlplane dev`: PGlite instead of PostgreSQL and no Redis, so limits,
// failure counts and nonces live in the gateway process. The same attacks must still fail.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createApiKey,
  createPgliteDatabase,
  createTenant,
  migrate,
  PostgresQueue,
  startGateway,
  startJobforge,
  type Database,
  type GatewayServer,
  type JobforgeServer,
} from '@controlplane/server';
import { createGatewayClient, jobRequest, logger, MemoryAudit, type GatewayClient, type KeyFixture } from './support/gateway-harness.js';
import { createPkiFixture, TRUST_DOMAIN, type PkiFixture } from './support/pki-fixture.js';

describe('gateway in embedded mode (PGlite, no Redis)', () => {
  let pki: PkiFixture;
  let db: Database;
  let jf: JobforgeServer;
  let gw: GatewayServer;
  let client: GatewayClient;
  let operator: KeyFixture;

  beforeAll(async () => {
    pki = await createPkiFixture();
    db = await createPgliteDatabase();
    await migrate(db);
    await createTenant(db, { id: 'dev', name: 'Development' });
    jf = await startJobforge({
      db,
      queue: ({ db, store }) => new PostgresQueue(db, store),
      logger,
      tls: pki.material('jobforge'),
      trustDomain: TRUST_DOMAIN,
      ca: pki.ca,
      listen: { host: '127.0.0.1', port: 0 },
      enrollListen: { host: '127.0.0.1', port: 0 },
      duties: false,
    });
    const m = pki.material('gateway');
    gw = await startGateway({
      db,
      logger,
      tls: { cert: m.cert, key: m.key },
      listen: { host: '127.0.0.1', port: 0 },
      upstreams: { jobforge: { url: jf.url, agent: pki.serviceAgent('gateway', 'jobforge') } },
      limits: {
        perKey: { capacity: 6, refillPerSecond: 0.05 },
        authFailures: { max: 3, windowSeconds: 60 },
        // PGlite runs on this test's event loop, which a loaded machine stalls past the production
        // bound; shedding on event-loop delay has tests of its own.
        maxEventLoopDelayMs: 10_000,
      },
      auditSink: new MemoryAudit(),
    });
    client = createGatewayClient(pki);
    const k = await createApiKey(db, { tenantId: 'dev', role: 'operator', name: 'dev operator' });
    operator = { id: k.id, key: k.key, privateKey: k.signingPrivateKeyPem!, tenantId: 'dev', role: 'operator' };
  });
  afterAll(async () => {
    await gw?.close();
    client?.agent.destroy();
    await jf?.close();
    pki?.cleanup();
    await db?.close();
  });

  it('submits, cancels with a signature, refuses the replay, then rate-limits the key', async () => {
    const job = jobRequest();
    const sub = await client.call(gw.url, 'POST', '/jobs', { key: operator, body: job });
    expect(sub.status).toBe(202);
    const cancel = await client.call(gw.url, 'POST', `/jobs/${job.id}/cancel`, { key: operator, sign: true });
    expect(cancel.status).toBe(200);
    expect(cancel.body.status).toBe('cancelled');
    const replay = await client.call(gw.url, 'POST', `/jobs/${job.id}/cancel`, { key: operator, signature: cancel.signature });
    expect(replay.body.error.code).toBe('SIGNATURE_REPLAYED');
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await client.call(gw.url, 'GET', `/jobs/${job.id}`, { key: operator })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
  });

  it('reports health without Redis, and answers routes of an unconfigured TruthCore with a 503', async () => {
    const health = await client.call(gw.url, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body.checks.map((c: { name: string }) => c.name)).toEqual(['database', 'jobforge']);
    const k = await createApiKey(db, { tenantId: 'dev', role: 'submitter', name: 'no truthcore' });
    const assert = await client.call(gw.url, 'POST', '/assert', { key: k.key, body: {} });
    expect(assert.status).toBe(503);
    expect(assert.body.error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
    expect(assert.headers['retry-after']).toBe('30');
  });

  it('answers bad keys uniformly, then blocks the address', async () => {
    const guess = () => `cpk_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`;
    const first = await client.call(gw.url, 'GET', '/jobs', { key: guess() });
    expect(first.body.error.code).toBe('AUTHENTICATION_FAILED');
    await client.call(gw.url, 'GET', '/jobs', { key: 'garbage' });
    await client.call(gw.url, 'GET', '/jobs', { key: guess() });
    const blocked = await client.call(gw.url, 'GET', '/jobs', { key: guess() });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
  });
});
