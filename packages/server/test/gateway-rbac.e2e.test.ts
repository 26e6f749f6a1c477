// The RBAC matrix: every route of the gateway's route table × every kind of caller, over real HTTPS
// with real JobForge behind it. Expectations come from the table's data; each allowed call is also
// checked for acting in the caller's own tenant, and each cross-tenant call for touching nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyPairAndCsr, createLogger, requestJson } from '@controlplane/platform';
import { createJoinToken, ROUTES, Scheduler, type GatewayServer, type RouteId, type RouteSpec } from '@controlplane/server';
import { createGatewayHarness, jobRequest, type GatewayHarness, type KeyFixture, type Reply } from './support/gateway-harness.js';

type Caller = 'admin' | 'operator' | 'submitter' | 'viewer' | 'none' | 'otherTenant' | 'platform';
const CALLERS: Caller[] = ['admin', 'operator', 'submitter', 'viewer', 'none', 'otherTenant', 'platform'];

let h: GatewayHarness;
let gw: GatewayServer;

function keyOf(caller: Caller): KeyFixture | undefined {
  if (caller === 'none') return undefined;
  if (caller === 'otherTenant') return h.keys.otherTenantAdmin;
  if (caller === 'platform') return h.keys.platformAdmin;
  return h.keys[caller];
}

/** The route table's rule, restated from its data: public, or role listed (and platform tenant when required). */
function expectedAllowed(route: RouteSpec, key: KeyFixture | undefined): boolean {
  if (route.access === 'public') return true;
  if (!key) return false;
  if (route.access === 'platform' && key.tenantId !== 'system') return false;
  return route.roles.includes(key.role);
}

async function enrolRunner(tenant: string): Promise<string> {
  const tok = await createJoinToken(h.db, { tenantId: tenant, pool: 'default', ttlMs: 60_000, createdBy: 'test' });
  const { csrPem } = await createKeyPairAndCsr({ commonName: 'matrix' });
  const res = await requestJson<any>({
    url: `${h.jf.enrollUrl}/enroll`,
    method: 'POST',
    body: { joinToken: tok.token, csr: csrPem, name: 'matrix' },
    agent: h.pki.anonymousAgent(),
  });
  expect(res.status).toBe(201);
  return res.body.runnerId;
}

async function cancelledJob(tenant: string): Promise<string> {
  const id = await h.seedJob(tenant);
  await h.jf.jobs.operator.cancel(tenant, id);
  return id;
}

/** A schedule of tenant `tenant`, made behind the gateway's back (the probes' target). */
async function schedule(tenant = 'ta'): Promise<string> {
  const scheduler = new Scheduler({ db: h.db, jobs: h.jf.jobs, logger: createLogger({ service: 'test', level: 'silent' }) });
  const s = await scheduler.create(tenant, 'test', { name: `s-${randomUUID().slice(0, 8)}`, job: { type: 'echo' }, cron: '0 0 1 1 *' });
  return s.id;
}

interface Probe {
  /** The request, aimed at tenant `ta`'s resources where the route has one. */
  request(caller: Caller): Promise<{ path: string; body?: unknown }>;
  /** For an allowed caller: the answer is the specific one expected for that caller. */
  check(caller: Caller, res: Reply, ctx: { path: string }): Promise<void> | void;
}

const inTenant = (caller: Caller) => (caller === 'otherTenant' ? 'tb' : caller === 'platform' ? 'system' : 'ta');
const notFoundOutsideA = (caller: Caller, res: Reply, okStatus: number) => {
  if (caller === 'otherTenant' || caller === 'platform') {
    expect(res.status).toBe(404);
    expect(res.body.error.category).toBe('RESOURCE_NOT_FOUND');
  } else expect(res.status).toBe(okStatus);
};
const echoFromTruthcore = (caller: Caller, res: Reply, upstreamPath: string) => {
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({ tenant: inTenant(caller), actor: `apikey:${keyOf(caller)!.id}`, path: upstreamPath });
};

const probes: Record<RouteId, Probe> = {
  health: {
    request: async () => ({ path: '/health' }),
    check: (_c, res) => expect(res.body).toMatchObject({ status: 'healthy', service: 'gateway' }),
  },
  'ui.assets': {
    request: async () => ({ path: '/ui/' }),
    // The dashboard when it is built (npm run build), else 404: public either way, for every caller.
    check: (_c, res) => {
      expect([200, 404]).toContain(res.status);
      if (res.status === 200) expect(res.headers['content-type']).toContain('text/html');
    },
  },
  'session.create': {
    request: async () => ({ path: '/session' }),
    check: (c, res) => {
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ tenantId: inTenant(c), keyId: keyOf(c)!.id, role: keyOf(c)!.role });
      expect(String(res.headers['set-cookie'])).toContain('__Host-cp_session=');
    },
  },
  'session.get': {
    request: async () => ({ path: '/session' }),
    // Called with an API key there is no session, so no CSRF token either.
    check: (c, res) => {
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ tenantId: inTenant(c), keyId: keyOf(c)!.id, csrfToken: null });
    },
  },
  'session.end': {
    request: async () => ({ path: '/session/end' }),
    check: (_c, res) => expect(res.status).toBe(204),
  },
  overview: {
    request: async () => ({ path: '/overview' }),
    check: (c, res) => {
      expect(res.status).toBe(200);
      const queued = res.body.queues.find((q: { type: string }) => q.type === 'echo')?.depth ?? 0;
      if (inTenant(c) === 'ta') expect(queued).toBeGreaterThan(0);
      else expect(queued).toBe(0);
      const runners = Object.values(res.body.runnersByState as Record<string, number>).reduce((a, b) => a + b, 0);
      if (inTenant(c) === 'ta') expect(runners).toBeGreaterThan(0);
      else expect(runners).toBe(0);
    },
  },
  'jobs.submit': {
    request: async () => ({ path: '/jobs', body: jobRequest() }),
    check: async (caller, res) => {
      expect(res.status).toBe(202);
      expect(res.body.status).toBe('queued');
      await expect(h.jf.jobs.queries.get(inTenant(caller), res.body.id)).resolves.toMatchObject({ id: res.body.id });
      if (caller === 'otherTenant') await expect(h.jf.jobs.queries.get('ta', res.body.id)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
    },
  },
  'jobs.submitBatch': {
    request: async () => ({ path: '/jobs/batch', body: { jobs: [jobRequest(), jobRequest()] } }),
    check: async (caller, res) => {
      expect(res.status).toBe(202);
      expect(res.body.jobs).toHaveLength(2);
      await expect(h.jf.jobs.queries.get(inTenant(caller), res.body.jobs[0].id)).resolves.toBeDefined();
    },
  },
  'jobs.list': {
    request: async () => ({ path: '/jobs?limit=500' }),
    check: async (caller, res) => {
      expect(res.status).toBe(200);
      const mine = (await h.jf.jobs.queries.list(inTenant(caller), { limit: 500 })).map((j) => j.id);
      const ids = res.body.jobs.map((j: { id: string }) => j.id);
      expect(ids.every((id: string) => mine.includes(id))).toBe(true);
      if (caller === 'otherTenant') expect(ids).not.toContain(seededA);
    },
  },
  'jobs.get': { request: async () => ({ path: `/jobs/${seededA}` }), check: (c, res) => notFoundOutsideA(c, res, 200) },
  'jobs.cancel': {
    request: async () => ({ path: `/jobs/${await h.seedJob('ta')}/cancel` }),
    check: (c, res) => {
      notFoundOutsideA(c, res, 200);
      if (res.status === 200) expect(res.body.status).toBe('cancelled');
    },
  },
  'jobs.retry': {
    request: async () => ({ path: `/jobs/${await cancelledJob('ta')}/retry` }),
    check: (c, res) => {
      notFoundOutsideA(c, res, 200);
      if (res.status === 200) expect(res.body.status).toBe('queued');
    },
  },
  'jobs.events': {
    request: async () => ({ path: `/jobs/${await cancelledJob('ta')}/events` }),
    check: (c, res) => {
      notFoundOutsideA(c, res, 200);
      if (res.status === 200) {
        expect(res.headers['content-type']).toContain('text/event-stream');
        expect([...res.text.matchAll(/^event: (.+)$/gm)].map((m) => m[1])).toEqual(['job.created', 'job.queued', 'job.cancelled']);
      }
    },
  },
  'jobs.attempts': {
    request: async () => ({ path: `/jobs/${seededA}/attempts` }),
    check: (c, res) => {
      notFoundOutsideA(c, res, 200);
      if (res.status === 200) expect(res.body.attempts).toEqual([]);
    },
  },
  'jobs.provenance': {
    request: async () => ({ path: `/jobs/${seededA}/provenance` }),
    check: (c, res) => echoFromTruthcore(c, res, `/v1/jobs/${seededA}/provenance`),
  },
  'truth.assert': {
    request: async () => ({ path: '/assert', body: { subject: 's' } }),
    check: (c, res) => echoFromTruthcore(c, res, '/v1/assert'),
  },
  'truth.query': {
    request: async () => ({ path: '/query', body: { pattern: {} } }),
    check: (c, res) => echoFromTruthcore(c, res, '/v1/query'),
  },
  'truth.assertion': {
    request: async () => ({ path: `/assertions/${seededA}` }),
    check: (c, res) => echoFromTruthcore(c, res, `/v1/assertions/${seededA}`),
  },
  // The stand-in TruthCore answers the stream with its echo; the gateway streams it through.
  'truth.subscribe': {
    request: async () => ({ path: '/subscribe?subject=s' }),
    check: (c, res) => {
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain('text/event-stream');
      expect(res.text).toContain(`"tenant":"${inTenant(c)}"`);
      expect(res.text).toContain('"path":"/v1/subscribe?subject=s"');
    },
  },
  'apiKeys.create': {
    request: async () => ({ path: '/admin/api-keys', body: { name: 'made by matrix', role: 'viewer' } }),
    check: (c, res) => {
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ tenantId: inTenant(c), role: 'viewer', signingKeyId: res.body.id });
      expect(res.body.key).toMatch(/^cpk_[0-9a-f]{16}_/);
    },
  },
  'apiKeys.list': {
    request: async () => ({ path: '/admin/api-keys' }),
    check: (c, res) => {
      expect(res.status).toBe(200);
      expect(res.body.apiKeys.length).toBeGreaterThan(0);
      expect(new Set(res.body.apiKeys.map((k: { tenantId: string }) => k.tenantId))).toEqual(new Set([inTenant(c)]));
      expect(JSON.stringify(res.body)).not.toMatch(/secret|hash|cpk_[0-9a-f]{16}_/i);
    },
  },
  'apiKeys.revoke': {
    request: async () => ({ path: `/admin/api-keys/${(await h.newKey('ta', 'viewer')).id}/revoke` }),
    check: (c, res) => {
      // Tenant admins revoke their own tenant's keys; the platform administrator any tenant's.
      if (c === 'otherTenant') {
        expect(res.status).toBe(404);
      } else {
        expect(res.status).toBe(200);
        expect(res.body.revokedAt).toBeTypeOf('string');
      }
    },
  },
  'joinTokens.create': {
    request: async () => ({ path: '/admin/join-tokens', body: { pool: 'default' } }),
    check: (c, res) => {
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ tenantId: inTenant(c), pool: 'default' });
    },
  },
  'runners.list': {
    request: async () => ({ path: '/admin/runners' }),
    check: (c, res) => {
      expect(res.status).toBe(200);
      const ids = res.body.runners.map((r: { id: string }) => r.id);
      if (inTenant(c) === 'ta') expect(ids).toContain(runnerA);
      else expect(ids).not.toContain(runnerA);
    },
  },
  'runners.revoke': {
    request: async () => ({ path: `/admin/runners/${await enrolRunner('ta')}/revoke` }),
    check: (c, res) => {
      notFoundOutsideA(c, res, 200);
      if (res.status === 200) expect(res.body.status).toBe('revoked');
    },
  },
  'jobTypes.list': {
    request: async () => ({ path: '/admin/job-types' }),
    check: (c, res) => {
      expect(res.status).toBe(200);
      const types = res.body.jobTypes.map((t: { type: string }) => t.type);
      if (inTenant(c) === 'ta') expect(types).toContain('matrix-type');
      else expect(types).not.toContain('matrix-type');
    },
  },
  'jobTypes.get': {
    request: async () => ({ path: '/admin/job-types/matrix-type' }),
    check: (c, res) => {
      notFoundOutsideA(c, res, 200);
      if (res.status === 200) expect(res.body).toMatchObject({ type: 'matrix-type', pool: 'default' });
    },
  },
  'jobTypes.put': {
    request: async () => ({ path: `/admin/job-types/put-${randomUUID().slice(0, 8)}`, body: { inputSchema: { type: 'object' } } }),
    check: async (c, res, ctx) => {
      expect(res.status).toBe(200);
      const type = ctx.path.split('/').pop()!;
      expect((await h.jf.jobTypes.list(h.db, inTenant(c))).map((t) => t.type)).toContain(type);
      expect((await h.jf.jobTypes.list(h.db, 'ta')).map((t) => t.type).includes(type)).toBe(inTenant(c) === 'ta');
    },
  },
  'schedules.list': {
    request: async () => ({ path: '/schedules' }),
    check: (c, res) => {
      expect(res.status).toBe(200);
      const ids = res.body.schedules.map((s: { id: string }) => s.id);
      expect(ids.includes(scheduleA)).toBe(inTenant(c) === 'ta');
    },
  },
  'schedules.get': {
    request: async () => ({ path: `/schedules/${scheduleA}` }),
    check: (c, res) => {
      notFoundOutsideA(c, res, 200);
      if (res.status === 200) expect(res.body.id).toBe(scheduleA);
    },
  },
  'schedules.create': {
    request: async () => ({
      path: '/schedules',
      body: { name: `m-${randomUUID().slice(0, 8)}`, job: { type: 'echo', data: {} }, cron: '0 0 1 1 *', timezone: 'Europe/Berlin' },
    }),
    check: (_c, res) => {
      expect(res.status, res.text).toBe(201);
      expect(res.body).toMatchObject({ cron: '0 0 1 1 *', timezone: 'Europe/Berlin', paused: false, runs: 0 });
    },
  },
  'schedules.pause': {
    request: async () => ({ path: `/schedules/${await schedule()}/pause` }),
    check: (c, res) => {
      notFoundOutsideA(c, res, 200);
      if (res.status === 200) expect(res.body.paused).toBe(true);
    },
  },
  'schedules.resume': {
    request: async () => ({ path: `/schedules/${await schedule()}/resume` }),
    check: (c, res) => {
      notFoundOutsideA(c, res, 200);
      if (res.status === 200) expect(res.body.paused).toBe(false);
    },
  },
  'schedules.delete': {
    request: async () => ({ path: `/schedules/${await schedule()}/delete` }),
    check: (c, res) => {
      notFoundOutsideA(c, res, 200);
      if (res.status === 200) expect(res.body.deleted).toBe(true);
    },
  },
  'schedules.trigger': {
    request: async () => ({ path: `/schedules/${await schedule()}/trigger` }),
    check: (c, res) => {
      notFoundOutsideA(c, res, 202);
      if (res.status === 202) expect(res.body.jobId).toBeTypeOf('string');
    },
  },
  'tenants.create': {
    request: async () => ({ path: '/admin/tenants', body: { id: `t-${randomUUID().slice(0, 8)}`, name: 'Made by the matrix' } }),
    check: (_c, res) => {
      expect(res.status).toBe(201);
      expect(res.body.status).toBe('active');
    },
  },
  'tenants.list': {
    request: async () => ({ path: '/admin/tenants' }),
    check: (_c, res) => {
      expect(res.status).toBe(200);
      expect(res.body.tenants.map((t: { id: string }) => t.id)).toEqual(expect.arrayContaining(['system', 'ta', 'tb']));
    },
  },
  'quotas.put': {
    request: async () => ({ path: '/admin/tenants/ta/quotas', body: { maxRunningJobs: 50 } }),
    check: (_c, res) => {
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ tenantId: 'ta', maxRunningJobs: 50 });
    },
  },
  'quotas.get': {
    request: async () => ({ path: '/admin/tenants/ta/quotas' }),
    check: (c, res) => {
      if (c === 'otherTenant') {
        expect(res.status).toBe(404);
      } else {
        expect(res.status).toBe(200);
        expect(res.body.tenantId).toBe('ta');
      }
    },
  },
  'audit.query': {
    request: async () => ({ path: '/admin/audit?limit=500' }),
    check: (c, res) => {
      expect(res.status).toBe(200);
      // The platform administrator reads everything; a tenant admin only its own tenant's events.
      if (c !== 'platform') expect(res.body.events.every((e: { tenantId: string }) => e.tenantId === inTenant(c))).toBe(true);
    },
  },
};

let seededA: string;
let runnerA: string;
let scheduleA: string;

describe('gateway RBAC matrix', () => {
  beforeAll(async () => {
    h = await createGatewayHarness();
    gw = await h.startGateway();
    seededA = await h.seedJob('ta');
    runnerA = await enrolRunner('ta');
    scheduleA = await schedule('ta');
    await h.jf.jobTypes.put(h.db, { tenantId: 'ta', type: 'matrix-type', inputSchema: null, outputSchema: null, pool: 'default' });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it('has a probe for every route in the table and no probe for a route it lacks', () => {
    expect(Object.keys(probes).sort()).toEqual(ROUTES.map((r) => r.id).sort());
  });

  describe.each(ROUTES.map((r) => [`${r.method} ${r.path}`, r] as const))('%s', (_name, route) => {
    it.each(CALLERS)('as %s', async (caller) => {
      const probe = probes[route.id];
      const key = keyOf(caller);
      const { path, body } = await probe.request(caller);
      const res = await h.client.call(gw.url, route.method, path, { key, body, sign: route.signed && key ? true : undefined });
      if (!expectedAllowed(route, key)) {
        if (key) {
          expect(res.status, res.text).toBe(403);
          expect(res.body.error).toMatchObject({
            code: 'FORBIDDEN',
            category: 'AUTHORIZATION_ERROR',
            retryable: false,
            service: 'gateway',
          });
        } else {
          expect(res.status, res.text).toBe(401);
          expect(res.body.error).toMatchObject({ code: 'AUTHENTICATION_REQUIRED', category: 'AUTHENTICATION_ERROR', service: 'gateway' });
        }
        return;
      }
      expect([401, 403], res.text).not.toContain(res.status);
      await probe.check(caller, res, { path });
    });
  });

  it('asks for a signature exactly on the signed routes, and audits each verified call with its action', async () => {
    for (const route of ROUTES as readonly RouteSpec[]) {
      if (!route.signed) continue; // the matrix above calls every other route unsigned, and is let through
      const caller: Caller = route.access === 'platform' ? 'platform' : 'admin';
      const probe = probes[route.id as RouteId];
      const attempt = await probe.request(caller);
      const unsigned = await h.client.call(gw.url, route.method, attempt.path, { key: keyOf(caller), body: attempt.body });
      expect(unsigned.status, route.id).toBe(401);
      expect(unsigned.body.error.code, route.id).toBe('SIGNATURE_REQUIRED');
      const refusal = h.audit.events.filter((e) => e.correlationId === unsigned.headers['x-correlation-id']);
      expect(
        refusal.map((e) => [e.action, e.details?.route]),
        route.id,
      ).toEqual([['signature.failed', route.id]]);

      const { path, body } = await probe.request(caller);
      const signed = await h.client.call(gw.url, route.method, path, { key: keyOf(caller), body, sign: true });
      expect(signed.status, `${route.id}: ${signed.text}`).toBeLessThan(400);
      const recorded = h.audit.events.filter((e) => e.correlationId === signed.headers['x-correlation-id']);
      expect(
        recorded.map((e) => [e.action, e.outcome]),
        route.id,
      ).toEqual([[route.audit, 'success']]);
    }
  });

  it('refuses a tenant admin that names another tenant, and ignores forged forwarding headers', async () => {
    const res = await h.client.call(gw.url, 'POST', '/admin/api-keys', {
      key: h.keys.otherTenantAdmin,
      sign: true,
      body: { name: 'x', role: 'admin', tenantId: 'ta' },
    });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
    const listed = await h.client.call(gw.url, 'GET', '/admin/api-keys?tenant=ta', { key: h.keys.otherTenantAdmin });
    expect(listed.status).toBe(403);
    const forged = await h.client.call(gw.url, 'POST', '/query', {
      key: h.keys.otherTenantAdmin,
      body: {},
      headers: { 'x-cp-tenant': 'ta', 'x-cp-actor': 'apikey:someone-else' },
    });
    expect(forged.body).toMatchObject({ tenant: 'tb', actor: `apikey:${h.keys.otherTenantAdmin.id}` });
    const viaPlatform = await h.client.call(gw.url, 'POST', '/admin/api-keys', {
      key: h.keys.platformAdmin,
      sign: true,
      body: { name: 'first admin of tb', role: 'admin', tenantId: 'tb' },
    });
    expect(viaPlatform.status).toBe(201);
    expect(viaPlatform.body.tenantId).toBe('tb');
  });
});
