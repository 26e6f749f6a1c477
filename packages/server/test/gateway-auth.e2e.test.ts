// Attacks on authentication, signatures, rate limits and quotas, against real PostgreSQL, Redis,
// JobForge and two gateway instances that share Redis.
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '@controlplane/platform';
import type { GatewayServer } from '@controlplane/server';
import {
  createGatewayHarness,
  jobRequest,
  RELAXED_LIMITS,
  type GatewayHarness,
  type KeyFixture,
  type Reply,
} from './support/gateway-harness.js';
import { TRUST_DOMAIN } from './support/pki-fixture.js';

let h: GatewayHarness;

/** The parts of a refusal that must not vary with the reason (id, timestamp and correlation id do). */
const stable = (r: Reply) => {
  const { id: _id, timestamp: _ts, correlationId: _cid, ...rest } = r.body.error;
  return { status: r.status, retryAfter: r.headers['retry-after'], envelope: rest };
};

describe('gateway authentication, signatures, limits and quotas', () => {
  let gwA: GatewayServer;
  let gwB: GatewayServer;

  beforeAll(async () => {
    h = await createGatewayHarness();
    gwA = await h.startGateway({}, { redisScope: 'pair' });
    gwB = await h.startGateway({}, { redisScope: 'pair' });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('answers wrong, unknown, malformed, expired and revoked keys with one identical 401', async () => {
    const valid = await h.newKey('ta', 'viewer');
    const expired = await h.newKey('ta', 'viewer');
    await h.db.query(`update api_keys set expires_at = now() - interval '1 second' where id = $1`, [expired.id]);
    const revoked = await h.newKey('ta', 'viewer');
    const rev = await h.client.call(gwA.url, 'POST', `/admin/api-keys/${revoked.id}/revoke`, { key: h.keys.admin, sign: true });
    expect(rev.status).toBe(200);

    const prefix = valid.key.slice(0, 'cpk_'.length + 16);
    const candidates = {
      wrongSecret: `${prefix}_${randomBytes(32).toString('base64url')}`,
      unknownPrefix: `cpk_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`,
      malformed: 'not-a-key',
      expired: expired.key,
      // revoked through gateway A, refused at once by gateway B: no cache stands in the way
      revoked: revoked.key,
    };
    const answers = await Promise.all(Object.values(candidates).map((k) => h.client.call(gwB.url, 'GET', '/jobs', { key: k })));
    for (const a of answers) {
      expect(a.status).toBe(401);
      expect(a.body.error).toMatchObject({
        code: 'AUTHENTICATION_FAILED',
        category: 'AUTHENTICATION_ERROR',
        retryable: false,
        service: 'gateway',
      });
    }
    const shapes = answers.map(stable);
    for (const s of shapes) expect(s).toEqual(shapes[0]);
    expect((await h.client.call(gwB.url, 'GET', '/jobs', { key: valid })).status).toBe(200);

    const reasons = h.audit.events.filter((e) => e.action === 'auth.failed').map((e) => e.details?.reason);
    expect(reasons).toEqual(expect.arrayContaining(['wrong_secret', 'unknown_key', 'malformed', 'expired', 'revoked']));
    expect(JSON.stringify(h.audit.events)).not.toContain(candidates.wrongSecret);
  });

  it('records last use at most once per interval', async () => {
    const k = await h.newKey('ta', 'viewer');
    for (let i = 0; i < 3; i++) expect((await h.client.call(gwA.url, 'GET', '/admin/job-types', { key: k })).status).toBe(200);
    let row: { last_used_at: Date | null } | undefined;
    for (let i = 0; i < 50 && !row?.last_used_at; i++) {
      row = (await h.db.query<{ last_used_at: Date | null }>('select last_used_at from api_keys where id = $1', [k.id])).rows[0];
      if (!row?.last_used_at) await new Promise((r) => setTimeout(r, 20));
    }
    const first = row!.last_used_at!;
    expect(first).toBeInstanceOf(Date);
    await h.client.call(gwB.url, 'GET', '/admin/job-types', { key: k });
    await new Promise((r) => setTimeout(r, 100));
    const again = (await h.db.query<{ last_used_at: Date }>('select last_used_at from api_keys where id = $1', [k.id])).rows[0]!
      .last_used_at;
    expect(again.getTime()).toBe(first.getTime());
  });

  describe('signed critical operations', () => {
    const cancelPath = async () => `/jobs/${await h.seedJob('ta')}/cancel`;

    it('accepts a correct signature once and refuses its replay on the other replica', async () => {
      const path = await cancelPath();
      const first = await h.client.call(gwA.url, 'POST', path, { key: h.keys.operator, sign: true });
      expect(first.status).toBe(200);
      expect(first.body.status).toBe('cancelled');
      const replay = await h.client.call(gwB.url, 'POST', path, { key: h.keys.operator, signature: first.signature });
      expect(replay.status).toBe(401);
      expect(replay.body.error.code).toBe('SIGNATURE_REPLAYED');
    });

    it('refuses a missing signature, one over another body, path or query, and one outside the window', async () => {
      const body = { name: 'signed', role: 'viewer' };
      const missing = await h.client.call(gwA.url, 'POST', '/admin/api-keys', { key: h.keys.admin, body });
      expect(missing.status).toBe(401);
      expect(missing.body.error.code).toBe('SIGNATURE_REQUIRED');

      const signedFor = signRequest({
        method: 'POST',
        url: '/admin/api-keys',
        body: JSON.stringify(body),
        keyId: h.keys.admin.id,
        privateKey: h.keys.admin.privateKey,
      });
      const otherBody = await h.client.call(gwA.url, 'POST', '/admin/api-keys', {
        key: h.keys.admin,
        body: { ...body, role: 'admin' },
        signature: signedFor,
      });
      expect(otherBody.status).toBe(401);
      expect(otherBody.body.error.code).toBe('SIGNATURE_INVALID');
      // The same bytes re-serialised with a space: the signature is over bytes, not over meaning.
      const reformatted = await h.client.call(gwA.url, 'POST', '/admin/api-keys', {
        key: h.keys.admin,
        rawBody: JSON.stringify(body, null, 1),
        signature: signedFor,
      });
      expect(reformatted.body.error.code).toBe('SIGNATURE_INVALID');

      const jobA = await cancelPath();
      const jobB = await cancelPath();
      const sigA = signRequest({ method: 'POST', url: jobA, keyId: h.keys.operator.id, privateKey: h.keys.operator.privateKey });
      const movedPath = await h.client.call(gwA.url, 'POST', jobB, { key: h.keys.operator, signature: sigA });
      expect(movedPath.body.error.code).toBe('SIGNATURE_INVALID');
      const addedQuery = await h.client.call(gwA.url, 'POST', `${jobA}?force=true`, { key: h.keys.operator, signature: sigA });
      expect(addedQuery.body.error.code).toBe('SIGNATURE_INVALID');
      expect((await h.jf.jobs.queries.get('ta', jobB.split('/')[2]!)).status).toBe('queued');

      // Well outside the ±300 s window: a signature 301 s in the future is only 300 s ahead by the
      // time a slow machine delivers it, so the margin must outlast any request's own latency.
      for (const skewMs of [-330_000, 330_000]) {
        const old = await h.client.call(gwA.url, 'POST', await cancelPath(), {
          key: h.keys.operator,
          sign: true,
          signAt: new Date(Date.now() + skewMs),
        });
        expect(old.status).toBe(401);
        expect(old.body.error.code).toBe('SIGNATURE_EXPIRED');
      }
      // Inside the window (signed 4 minutes ago) is still accepted.
      const recent = await h.client.call(gwA.url, 'POST', await cancelPath(), {
        key: h.keys.operator,
        sign: true,
        signAt: new Date(Date.now() - 240_000),
      });
      expect(recent.status).toBe(200);
    });

    it("accepts only the calling key's own signature", async () => {
      const path = await cancelPath();
      // A valid signature by another key of the same tenant does not authorise this key's request.
      const byOther = await h.client.call(gwA.url, 'POST', path, { key: h.keys.operator, sign: h.keys.submitter });
      expect(byOther.status).toBe(401);
      expect(byOther.body.error.code).toBe('SIGNATURE_INVALID');
      // Claiming the calling key's id but signing with another private key.
      const forged = signRequest({ method: 'POST', url: path, keyId: h.keys.operator.id, privateKey: h.keys.submitter.privateKey });
      const res = await h.client.call(gwA.url, 'POST', path, { key: h.keys.operator, signature: forged });
      expect(res.body.error.code).toBe('SIGNATURE_INVALID');
      expect((await h.jf.jobs.queries.get('ta', path.split('/')[2]!)).status).toBe('queued');
      const events = h.audit.events.filter((e) => e.action === 'signature.failed' && e.actor.id === h.keys.operator.id);
      expect(events.length).toBeGreaterThanOrEqual(2);
      expect(events.every((e) => e.outcome === 'denied' && e.tenantId === 'ta')).toBe(true);
    });

    it('uses a client-provided public key when one is registered, and returns no private key then', async () => {
      const { generateSigningKeyPair } = await import('@controlplane/platform');
      const pair = generateSigningKeyPair();
      const made = await h.client.call(gwA.url, 'POST', '/admin/api-keys', {
        key: h.keys.admin,
        sign: true,
        body: { name: 'own pair', role: 'operator', signingPublicKey: pair.publicKeyPem },
      });
      expect(made.status).toBe(201);
      expect(made.body.signingPrivateKey).toBeUndefined();
      const mine: KeyFixture = { id: made.body.id, key: made.body.key, privateKey: pair.privateKeyPem, tenantId: 'ta', role: 'operator' };
      expect((await h.client.call(gwA.url, 'POST', await cancelPath(), { key: mine, sign: true })).status).toBe(200);
      const created = h.audit.events.find((e) => e.action === 'apikey.create' && e.resource?.id === made.body.id);
      expect(created).toMatchObject({ outcome: 'success', tenantId: 'ta', actor: { kind: 'apikey', id: h.keys.admin.id } });
      const bad = await h.client.call(gwA.url, 'POST', '/admin/api-keys', {
        key: h.keys.admin,
        sign: true,
        body: { name: 'rsa', role: 'viewer', signingPublicKey: 'not a key' },
      });
      expect(bad.status).toBe(400);
      expect(bad.body.error.details[0].path).toEqual(['signingPublicKey']);
    });
  });

  describe('rate limits shared through Redis', () => {
    it('holds one per-key limit across two gateway processes and answers 429 with Retry-After', async () => {
      const limits = { ...RELAXED_LIMITS, perKey: { capacity: 5, refillPerSecond: 0.05 } };
      const g1 = await h.startGateway(limits, { redisScope: 'burst' });
      // The second gateway is a process of its own: nothing but Redis is shared with the first.
      const other = spawn(
        process.execPath,
        [
          fileURLToPath(new URL('./fixtures/gateway-process.mjs', import.meta.url)),
          JSON.stringify({
            databaseUrl: h.tdb.url,
            redisUrl: h.redis.url,
            redisPrefix: h.redis.prefix,
            redisScope: 'burst',
            pkiDir: h.pki.dir,
            trustDomain: TRUST_DOMAIN,
            jobforgeUrl: h.jf.url,
            limits,
          }),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const exited = new Promise<number | null>((resolve) => other.once('exit', resolve));
      try {
        const g2 = {
          url: await new Promise<string>((resolve, reject) => {
            createInterface({ input: other.stdout! }).once('line', (l) => resolve((JSON.parse(l) as { url: string }).url));
            other.once('exit', (code) => reject(new Error(`gateway process exited with ${code}`)));
          }),
        };
        const k = await h.newKey('ta', 'viewer');
        const statuses: number[] = [];
        let refused: Reply | undefined;
        for (let i = 0; i < 10; i++) {
          const r = await h.client.call(i % 2 === 0 ? g1.url : g2.url, 'GET', '/admin/job-types', { key: k });
          statuses.push(r.status);
          if (r.status === 429) refused ??= r;
        }
        expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429, 429, 429]);
        expect(refused!.body.error).toMatchObject({ code: 'RATE_LIMITED', category: 'RATE_LIMITED', retryable: true });
        const retryAfter = Number(refused!.headers['retry-after']);
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(20);
        expect(refused!.body.error.retryAfter).toBe(retryAfter);
        // Another key of the same tenant has its own bucket.
        expect((await h.client.call(g2.url, 'GET', '/admin/job-types', { key: await h.newKey('ta', 'viewer') })).status).toBe(200);
      } finally {
        other.kill('SIGTERM');
        expect(await exited).toBe(0);
      }
    });

    it('limits each source address, before authentication', async () => {
      const g = await h.startGateway({ perAddress: { capacity: 3, refillPerSecond: 0.05 } }, { redisScope: 'addr' });
      const statuses = [];
      for (let i = 0; i < 5; i++)
        statuses.push((await h.client.call(g.url, 'GET', '/jobs', { key: i % 2 ? undefined : h.keys.viewer })).status);
      expect(statuses).toEqual([200, 401, 200, 429, 429]);
    });

    it('stops guessing after repeated authentication failures from one address, on every replica', async () => {
      const g1 = await h.startGateway({ authFailures: { max: 4, windowSeconds: 60 } }, { redisScope: 'guess' });
      const g2 = await h.startGateway({ authFailures: { max: 4, windowSeconds: 60 } }, { redisScope: 'guess' });
      const guess = () => `cpk_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`;
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await h.client.call(i % 2 ? g1.url : g2.url, 'GET', '/jobs', { key: guess() })).status);
      expect(statuses).toEqual([401, 401, 401, 401]);
      // Now even a correct key is not checked from this address: a lucky guess would look the same.
      const blocked = await h.client.call(g1.url, 'GET', '/jobs', { key: h.keys.viewer });
      expect(blocked.status).toBe(429);
      expect(blocked.body.error.code).toBe('RATE_LIMITED');
      expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(50);
      expect((await h.client.call(g2.url, 'GET', '/jobs', { key: guess() })).status).toBe(429);
    });
  });

  describe('tenant quotas', () => {
    let tq: KeyFixture;

    beforeAll(async () => {
      const tenant = await h.client.call(gwA.url, 'POST', '/admin/tenants', {
        key: h.keys.platformAdmin,
        sign: true,
        body: { id: 'tq', name: 'Quota tenant' },
      });
      expect(tenant.status).toBe(201);
      const dup = await h.client.call(gwA.url, 'POST', '/admin/tenants', {
        key: h.keys.platformAdmin,
        sign: true,
        body: { id: 'tq', name: 'again' },
      });
      expect(dup.status).toBe(409);
      const key = await h.client.call(gwA.url, 'POST', '/admin/api-keys', {
        key: h.keys.platformAdmin,
        sign: true,
        body: { name: 'tq admin', role: 'admin', tenantId: 'tq' },
      });
      expect(key.status).toBe(201);
      tq = { id: key.body.id, key: key.body.key, privateKey: key.body.signingPrivateKey, tenantId: 'tq', role: 'admin' };
      const q = await h.client.call(gwA.url, 'PUT', '/admin/tenants/tq/quotas', {
        key: h.keys.platformAdmin,
        sign: true,
        body: { maxQueuedJobs: 2, maxPayloadBytes: 200 },
      });
      expect(q.status).toBe(200);
      expect(q.body).toMatchObject({ tenantId: 'tq', maxQueuedJobs: 2, maxPayloadBytes: 200, maxRunningJobs: null });
      expect(h.audit.events.some((e) => e.action === 'quota.put' && e.outcome === 'success' && e.resource?.id === 'tq')).toBe(true);
    });

    it('refuses jobs past the queued-jobs quota with QUOTA_EXCEEDED', async () => {
      expect((await h.client.call(gwA.url, 'POST', '/jobs', { key: tq, body: jobRequest() })).status).toBe(202);
      const batch = await h.client.call(gwB.url, 'POST', '/jobs/batch', { key: tq, body: { jobs: [jobRequest(), jobRequest()] } });
      expect(batch.status).toBe(409);
      expect(batch.body.error).toMatchObject({ code: 'QUOTA_EXCEEDED', category: 'RESOURCE_CONFLICT', retryable: true });
      expect((await h.client.call(gwB.url, 'POST', '/jobs', { key: tq, body: jobRequest() })).status).toBe(202);
      const third = await h.client.call(gwA.url, 'POST', '/jobs', { key: tq, body: jobRequest() });
      expect(third.status).toBe(409);
      expect(third.body.error.code).toBe('QUOTA_EXCEEDED');
      expect(third.body.error.message).toContain('queued jobs');
      expect((await h.jf.jobs.queries.list('tq', { limit: 10 })).length).toBe(2);
    });

    it("refuses a payload over the tenant's size quota as not retryable", async () => {
      await h.client.call(gwA.url, 'PUT', '/admin/tenants/tq/quotas', {
        key: h.keys.platformAdmin,
        sign: true,
        body: { maxQueuedJobs: null },
      });
      const res = await h.client.call(gwA.url, 'POST', '/jobs', {
        key: tq,
        body: jobRequest({ payload: { type: 'echo', data: { blob: 'x'.repeat(300) } } }),
      });
      expect(res.status).toBe(409);
      expect(res.body.error).toMatchObject({ code: 'QUOTA_EXCEEDED', retryable: false, details: [{ path: ['payload'] }] });
      expect((await h.client.call(gwA.url, 'POST', '/jobs', { key: tq, body: jobRequest() })).status).toBe(202);
    });

    it("applies the tenant's request rate across all its keys", async () => {
      const g = await h.startGateway({}, { redisScope: 'tenant-rate' });
      await h.client.call(g.url, 'PUT', '/admin/tenants/tq/quotas', {
        key: h.keys.platformAdmin,
        sign: true,
        body: { requestsPerSecond: 1, burst: 3 },
      });
      const second = await h.client.call(g.url, 'POST', '/admin/api-keys', {
        key: tq,
        sign: true,
        body: { name: 'second', role: 'viewer' },
      });
      expect(second.status).toBe(201);
      const keys = [tq.key, second.body.key];
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await h.client.call(g.url, 'GET', '/admin/job-types', { key: keys[i % 2] })).status);
      expect(statuses).toEqual([200, 200, 429, 429]);
      const other = await h.client.call(g.url, 'GET', '/admin/job-types', { key: h.keys.viewer });
      expect(other.status).toBe(200);
    });
  });

  it("lets tenant admins read only their own tenant's audit events", async () => {
    const mine = await h.client.call(gwA.url, 'GET', '/admin/audit?limit=500', { key: h.keys.admin });
    expect(mine.status).toBe(200);
    expect(mine.body.events.length).toBeGreaterThan(0);
    expect(mine.body.events.every((e: { tenantId: string }) => e.tenantId === 'ta')).toBe(true);
    const all = await h.client.call(gwA.url, 'GET', '/admin/audit?limit=500&action=auth.failed', { key: h.keys.platformAdmin });
    expect(all.body.events.length).toBeGreaterThan(0);
    expect(all.body.events.every((e: { action: string }) => e.action === 'auth.failed')).toBe(true);
    const refused = await h.client.call(gwA.url, 'GET', `/admin/audit?tenant=tb`, { key: h.keys.admin });
    expect(refused.status).toBe(403);
  });

  it('keeps idempotent submission through the gateway', async () => {
    const req = jobRequest({ id: randomUUID() });
    const a = await h.client.call(gwA.url, 'POST', '/jobs', { key: h.keys.submitter, body: req });
    const b = await h.client.call(gwB.url, 'POST', '/jobs', { key: h.keys.submitter, body: req });
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(b.body.updatedAt).toBe(a.body.updatedAt);
    const conflict = await h.client.call(gwB.url, 'POST', '/jobs', { key: h.keys.submitter, body: { ...req, priority: 99 } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', service: 'gateway' });
    expect(conflict.body.error.operation).toBe('POST /jobs');
  });
});
