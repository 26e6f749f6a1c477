// The runner protocol and the service API over real mTLS, on real PostgreSQL and Redis.
import { randomUUID } from 'node:crypto';
import type { Agent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyJobEnvelopes } from '@controlplane/platform';
import { AuditLog, envelopeSignatureFields, queryAudit, verifyAuditChain, type Database, type JobforgeServer } from '@controlplane/server';
import { startJobforgeHarness, type JobforgeHarness } from './support/jobforge-harness.js';
import { runnerCalls } from './support/runner-calls.js';
import { createKeyPairAndCsr, TRUST_DOMAIN, type PkiFixture } from './support/pki-fixture.js';
import { job } from './support/queue-conformance.js';

describe('jobforge over mTLS', () => {
  let pki: PkiFixture;
  let db: Database;
  let jf: JobforgeServer;
  let gw: Agent;

  let h: JobforgeHarness;
  const { call, asTenant, enrollRunner, sign, complete, fail } = runnerCalls(() => h);

  beforeAll(async () => {
    h = await startJobforgeHarness({ leaseMs: 2_000, withDb: (db) => ({ audit: new AuditLog(db) }) });
    ({ pki, db, jf, gw } = h);
  });

  afterAll(async () => {
    await h?.close();
  });

  it('enrols a runner, which claims and completes a submitted job', async () => {
    const r = await enrollRunner('t1');
    expect(r.enrollment.spiffeId).toBe(`spiffe://${TRUST_DOMAIN}/runner/${r.runnerId}`);
    const req = job({ metadata: { source: 'e2e', createdAt: new Date().toISOString(), correlationId: 'e2e-corr-0001' } });
    const sub = await call(gw, 'POST', '/v1/jobs', req, asTenant('t1'));
    expect(sub.status).toBe(202);
    expect(sub.body.status).toBe('queued');
    const claim = await call(r.agent, 'POST', '/runner/v1/claim', { max: 5, waitMs: 1000 });
    expect(claim.status).toBe(200);
    expect(claim.body.jobs).toHaveLength(1);
    const env = claim.body.jobs[0];
    expect(env).toMatchObject({ jobId: req.id, tenantId: 't1', attempt: 1, correlationId: 'e2e-corr-0001' });
    // the batch of envelopes is signed by JobForge's certificate, handed over at registration
    expect(
      verifyJobEnvelopes(claim.body.jobs.map(envelopeSignatureFields), r.registration.jobforgeCertificatePem, claim.body.signature),
    ).toBe(true);
    const tampered = { ...claim.body.jobs[0], payloadDigest: '0'.repeat(64) };
    expect(verifyJobEnvelopes([envelopeSignatureFields(tampered)], r.registration.jobforgeCertificatePem, claim.body.signature)).toBe(
      false,
    );
    const done = await complete(r, env, { ok: 1 });
    expect(done.body).toMatchObject({ status: 'completed', duplicate: false });
    const attempts = await call(gw, 'GET', `/v1/jobs/${req.id}/attempts`, undefined, asTenant('t1'));
    expect(attempts.body.attempts[0]).toMatchObject({ outcome: 'completed', result_signature: expect.stringMatching(/^v1\./) });
    const got = await call(gw, 'GET', `/v1/jobs/${req.id}`, undefined, asTenant('t1'));
    expect(got.body).toMatchObject({ status: 'completed', result: { success: true, data: { ok: 1 } } });
    const other = await call(gw, 'GET', `/v1/jobs/${req.id}`, undefined, asTenant('t2'));
    expect(other.status).toBe(404);
  });

  it('a flow child runs after its parents and reads their results over mTLS; no other runner may', async () => {
    const r = await enrollRunner('t1', 'default', 'flow');
    const foreign = await enrollRunner('t2', 'default', 'foreign');
    const p1 = job();
    const p2 = job();
    const kid = job({ dependsOn: [p1.id, p2.id] });
    const sub = await call(gw, 'POST', '/v1/jobs/batch', { jobs: [kid, p1, p2] }, asTenant('t1'));
    expect(sub.status).toBe(202);
    const first = await call(r.agent, 'POST', '/runner/v1/claim', { max: 5, waitMs: 0 });
    expect(first.body.jobs.map((j: { jobId: string }) => j.jobId).sort()).toEqual([p1.id, p2.id].sort());
    for (const env of first.body.jobs) await complete(r, env, { from: env.jobId });
    const second = await call(r.agent, 'POST', '/runner/v1/claim', { max: 5, waitMs: 2000 });
    expect(second.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([kid.id]);
    const env = second.body.jobs[0];
    const lease = { leaseId: env.leaseId, fencingToken: env.fencingToken };
    const parents = await call(r.agent, 'POST', `/runner/v1/jobs/${kid.id}/parents`, lease);
    expect(parents.status).toBe(200);
    expect(parents.body.parents.map((p: { id: string; result: { data: unknown } }) => [p.id, p.result.data]).sort()).toEqual(
      [
        [p1.id, { from: p1.id }],
        [p2.id, { from: p2.id }],
      ].sort(),
    );
    // Another tenant's runner with the child's lease in hand reads nothing.
    const stolen = await call(foreign.agent, 'POST', `/runner/v1/jobs/${kid.id}/parents`, lease);
    expect(stolen.status).toBe(403);
    expect(stolen.body.error.code).toBe('LEASE_NOT_HELD');
    const shown = await call(gw, 'GET', `/v1/jobs/${kid.id}`, undefined, asTenant('t1'));
    expect(shown.body).toMatchObject({ status: 'running', flowId: p1.id, parents: [p1.id, p2.id].sort() });
    expect((await call(gw, 'GET', `/v1/jobs/${kid.id}`, undefined, asTenant('t2'))).status).toBe(404);
    await complete(r, env, { done: true });
  });

  it('holds a claim as a long-poll and answers it as soon as work arrives', async () => {
    const r = await enrollRunner('t1', 'default', 'poller');
    const pending = call(r.agent, 'POST', '/runner/v1/claim', { max: 1, waitMs: 10_000 });
    await new Promise((res) => setTimeout(res, 400));
    const req = job();
    await call(gw, 'POST', '/v1/jobs', req, asTenant('t1'));
    const got = await pending;
    expect(got.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([req.id]);
    await complete(r, got.body.jobs[0], {});
  });

  it('gives a draining runner no work, not even through a long-poll opened before the drain', async () => {
    await db.query(`insert into tenants (id, name) values ('t-drain', 'Drain') on conflict do nothing`);
    const r = await enrollRunner('t-drain', 'default', 'drainer');
    const heartbeat = (status: string) =>
      call(r.agent, 'POST', '/runner/v1/heartbeat', {
        heartbeat: { runnerId: r.runnerId, timestamp: new Date().toISOString(), status, activeJobs: 0, queuedJobs: 0 },
        leases: [],
      });
    // The long-poll is open before the drain; the server has not seen its connection close.
    const pending = call(r.agent, 'POST', '/runner/v1/claim', { max: 5, waitMs: 3_000 });
    await new Promise((res) => setTimeout(res, 300));
    const t0 = Date.now();
    expect((await heartbeat('draining')).status).toBe(200);
    const req = job();
    expect((await call(gw, 'POST', '/v1/jobs', req, asTenant('t-drain'))).status).toBe(202);
    // The lease attempted at the poll's next wake-up (work arriving) checks the runner's state in
    // its own statement and leases nothing: the poll ends empty, well before its 3 s wait runs out.
    expect((await pending).body.jobs).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect((await call(r.agent, 'POST', '/runner/v1/claim', { max: 5, waitMs: 1_000 })).body.jobs).toEqual([]);
    expect((await call(gw, 'GET', `/v1/jobs/${req.id}`, undefined, asTenant('t-drain'))).body.status).toBe('queued');
    const listed = await call(gw, 'GET', '/v1/runners', undefined, asTenant('t-drain'));
    expect(listed.body.runners.find((x: { id: string }) => x.id === r.runnerId)).toMatchObject({ status: 'draining' });
    // Restarted, it registers again and is given work.
    const reg = await call(r.agent, 'POST', '/runner/v1/register', {
      name: 'drainer',
      version: '1.0.1',
      contractVersion: '1.0.0',
      capabilities: [{ id: 'echo', name: 'Echo', version: '1.0.0', supportedJobTypes: ['echo'] }],
    });
    expect(reg.status).toBe(200);
    const claimed = await call(r.agent, 'POST', '/runner/v1/claim', { max: 5, waitMs: 1_000 });
    expect(claimed.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([req.id]);
    await complete(r, claimed.body.jobs[0], {});
  });

  it('leases nothing to a long-poll whose runner was revoked while it waited', async () => {
    await db.query(`insert into tenants (id, name) values ('t-midpoll', 'Mid-poll') on conflict do nothing`);
    const r = await enrollRunner('t-midpoll', 'default', 'midpoll');
    const pending = call(r.agent, 'POST', '/runner/v1/claim', { max: 5, waitMs: 3_000 });
    await new Promise((res) => setTimeout(res, 300));
    // Authenticated when the poll began; revoked now, before any work arrives.
    expect((await call(gw, 'POST', `/v1/runners/${r.runnerId}/revoke`, undefined, asTenant('t-midpoll'))).body.status).toBe('revoked');
    const req = job();
    expect((await call(gw, 'POST', '/v1/jobs', req, asTenant('t-midpoll'))).status).toBe(202);
    // The wake-up's lease statement sees the revocation itself: the poll ends empty at once and
    // the job stays queued, still in the dispatch index, for a runner that may run it.
    const t0 = Date.now();
    expect((await pending).body.jobs).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect((await call(gw, 'GET', `/v1/jobs/${req.id}`, undefined, asTenant('t-midpoll'))).body.status).toBe('queued');
    const other = await enrollRunner('t-midpoll', 'default', 'successor');
    const claimed = await call(other.agent, 'POST', '/runner/v1/claim', { max: 5, waitMs: 1_000 });
    expect(claimed.body.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([req.id]);
    await complete(other, claimed.body.jobs[0], {});
  });

  it('refuses a reused and an expired join token', async () => {
    const r = await enrollRunner('t1');
    const { csrPem } = await createKeyPairAndCsr({ commonName: 'again' });
    const reuse = await call(pki.anonymousAgent(), 'POST', '/enroll', { joinToken: r.token, csr: csrPem }, {}, jf.enrollUrl);
    expect(reuse.status).toBe(401);
    expect(reuse.body.error.code).toBe('JOIN_TOKEN_INVALID');

    const tok = await call(gw, 'POST', '/v1/join-tokens', {}, asTenant('t1'));
    await db.query(`update join_tokens set expires_at = now() - interval '1 second' where id = $1`, [tok.body.id]);
    const expired = await call(pki.anonymousAgent(), 'POST', '/enroll', { joinToken: tok.body.token, csr: csrPem }, {}, jf.enrollUrl);
    expect(expired.status).toBe(401);
    expect(expired.body.error.code).toBe('JOIN_TOKEN_INVALID');
    const forged = await call(
      pki.anonymousAgent(),
      'POST',
      '/enroll',
      { joinToken: 'cpjt_' + 'A'.repeat(43), csr: csrPem },
      {},
      jf.enrollUrl,
    );
    expect(forged.body.error.code).toBe('JOIN_TOKEN_INVALID');
  });

  it('keeps runners to their own tenant and jobs: claims and foreign completions refused', async () => {
    const a = await enrollRunner('t1', 'default', 'ra');
    const b = await enrollRunner('t2', 'default', 'rb');
    const req = job();
    await call(gw, 'POST', '/v1/jobs', req, asTenant('t1'));
    const bClaim = await call(b.agent, 'POST', '/runner/v1/claim', { max: 10, waitMs: 0, types: ['echo', 'anything'] });
    expect(bClaim.body.jobs).toEqual([]);
    // same tenant, another pool: a runner enrolled for pool gpu gets nothing from pool default
    const gpu = await enrollRunner('t1', 'gpu', 'rgpu');
    expect((await call(gpu.agent, 'POST', '/runner/v1/claim', { max: 10, waitMs: 0, types: ['echo'] })).body.jobs).toEqual([]);
    const aClaim = await call(a.agent, 'POST', '/runner/v1/claim', { max: 10, waitMs: 1000 });
    const env = aClaim.body.jobs.find((j: { jobId: string }) => j.jobId === req.id);
    expect(env).toBeDefined();
    const forged = await complete(b, env, { evil: true });
    expect(forged.status).toBe(403);
    expect(forged.body.error).toMatchObject({ code: 'LEASE_NOT_HELD', category: 'AUTHORIZATION_ERROR' });
    const stale = await complete(a, { ...env, fencingToken: '1' }, {});
    expect(stale.body.error.category).toBe('AUTHORIZATION_ERROR');
    // the lease holder itself must sign: unsigned, signed by another runner's key, or over other data
    const unsigned = await call(a.agent, 'POST', `/runner/v1/jobs/${req.id}/complete`, {
      leaseId: env.leaseId,
      fencingToken: env.fencingToken,
      data: { good: true },
    });
    expect(unsigned.status).toBe(403);
    expect(unsigned.body.error.code).toBe('ENVELOPE_SIGNATURE_INVALID');
    const wrongKey = await complete(a, env, { good: true }, { signature: sign(b.keyPem, env, 'completed', { good: true }) });
    expect(wrongKey.body.error.code).toBe('ENVELOPE_SIGNATURE_INVALID');
    const otherData = await complete(a, env, { good: true }, { signature: sign(a.keyPem, env, 'completed', { good: false }) });
    expect(otherData.body.error.code).toBe('ENVELOPE_SIGNATURE_INVALID');
    const heartbeatAsOther = await call(b.agent, 'POST', '/runner/v1/heartbeat', {
      heartbeat: { runnerId: a.runnerId, timestamp: new Date().toISOString(), status: 'busy', activeJobs: 1, queuedJobs: 0 },
      leases: [],
    });
    expect(heartbeatAsOther.status).toBe(403);
    const ok = await complete(a, env, { good: true });
    expect(ok.body.status).toBe('completed');
    expect((await call(gw, 'GET', `/v1/jobs/${req.id}`, undefined, asTenant('t1'))).body.result.data).toEqual({ good: true });
  });

  it('acknowledges the same outcome re-sent as a duplicate, and answers a different one for a finished lease with 409', async () => {
    const r = await enrollRunner('t1', 'default', 'resender');
    const [first, second] = [job(), job()];
    await call(gw, 'POST', '/v1/jobs', first, asTenant('t1'));
    await call(gw, 'POST', '/v1/jobs', second, asTenant('t1'));
    const claimed = (await call(r.agent, 'POST', '/runner/v1/claim', { max: 2, waitMs: 1000 })).body.jobs;
    const envOf = (id: string) => claimed.find((j: { jobId: string }) => j.jobId === id);
    const env = envOf(first.id);
    expect((await complete(r, env, { total: 5 })).body).toMatchObject({ status: 'completed', duplicate: false });
    expect((await complete(r, env, { total: 5 })).body).toMatchObject({ status: 'completed', duplicate: true });
    const other = await complete(r, env, { total: 500 }); // validly signed, another result
    expect(other.status).toBe(409);
    expect(other.body.error).toMatchObject({ code: 'RESOURCE_CONFLICT', category: 'RESOURCE_CONFLICT', retryable: false });
    const failAfter = await fail(r, env, { category: 'RUNTIME_ERROR', message: 'changed my mind', retryable: false });
    expect(failAfter.status).toBe(409);
    expect((await call(gw, 'GET', `/v1/jobs/${first.id}`, undefined, asTenant('t1'))).body.result.data).toEqual({ total: 5 });

    const env2 = envOf(second.id);
    const failure = { category: 'RUNTIME_ERROR', code: 'BAD_INPUT', message: 'no', retryable: false };
    expect((await fail(r, env2, failure)).body).toMatchObject({ status: 'failed', duplicate: false });
    expect((await fail(r, env2, failure)).body).toMatchObject({ status: 'failed', duplicate: true });
    expect((await fail(r, env2, { ...failure, message: 'another reason' })).status).toBe(409);
    expect((await complete(r, env2, { ok: true })).status).toBe(409);
    // another runner's outcome for that lease is still not its lease
    const stranger = await enrollRunner('t1', 'default', 'stranger');
    expect((await complete(stranger, env, { total: 5 })).status).toBe(403);
  });

  it('refuses forwarded-tenant headers from anything but the gateway', async () => {
    const a = await enrollRunner('t1', 'default', 'sneaky');
    const res = await call(a.agent, 'GET', '/v1/jobs', undefined, asTenant('t2'));
    expect(res.status).toBe(403);
    const truthcore = pki.serviceAgent('truthcore', 'jobforge');
    expect((await call(truthcore, 'GET', '/v1/jobs', undefined, asTenant('t1'))).status).toBe(403);
    expect((await call(gw, 'GET', '/v1/jobs', undefined, { 'x-cp-tenant': 'T1;drop', 'x-cp-actor': 'x' })).status).toBe(401);
  });

  it('delivers cancellation of a running job to the runner on its heartbeat', async () => {
    const r = await enrollRunner('t1', 'default', 'rc');
    const req = job();
    await call(gw, 'POST', '/v1/jobs', req, asTenant('t1'));
    const env = (await call(r.agent, 'POST', '/runner/v1/claim', { max: 1, waitMs: 1000 })).body.jobs[0];
    expect(env.jobId).toBe(req.id);
    const cancel = await call(gw, 'POST', `/v1/jobs/${req.id}/cancel`, undefined, asTenant('t1'));
    expect(cancel.body.status).toBe('running');
    const hb = await call(r.agent, 'POST', '/runner/v1/heartbeat', {
      heartbeat: { runnerId: r.runnerId, timestamp: new Date().toISOString(), status: 'busy', activeJobs: 1, queuedJobs: 0 },
      leases: [{ jobId: env.jobId, leaseId: env.leaseId, fencingToken: env.fencingToken }],
    });
    expect(hb.body.cancel).toEqual([req.id]);
    expect((await fail(r, env, { category: 'RUNNER_ERROR', code: 'JOB_CANCELLED', message: 'cancelled', retryable: false })).status).toBe(
      200,
    );
    expect((await call(gw, 'GET', `/v1/jobs/${req.id}`, undefined, asTenant('t1'))).body.status).toBe('cancelled');
  });

  it('cuts off a revoked runner at once, on its open connection and on new ones', async () => {
    const r = await enrollRunner('t1', 'default', 'doomed');
    expect((await call(r.agent, 'POST', '/runner/v1/claim', { max: 1, waitMs: 0 })).status).toBe(200);
    const rev = await call(gw, 'POST', `/v1/runners/${r.runnerId}/revoke`, undefined, asTenant('t1'));
    expect(rev.body.status).toBe('revoked');
    const after = await call(r.agent, 'POST', '/runner/v1/claim', { max: 1, waitMs: 0 });
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('CERTIFICATE_REVOKED');
    r.agent.destroy(); // force a new TLS connection: refused during the handshake check
    await expect(call(r.agent, 'POST', '/runner/v1/claim', { max: 1, waitMs: 0 })).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    const renew = await createKeyPairAndCsr({ commonName: 'doomed' });
    expect(renew.csrPem).toContain('CERTIFICATE REQUEST');
    // another tenant cannot revoke (or even see) this tenant's runner
    const cross = await call(
      gw,
      'POST',
      `/v1/runners/${(await enrollRunner('t1', 'default', 'victim')).runnerId}/revoke`,
      undefined,
      asTenant('t2'),
    );
    expect(cross.status).toBe(404);
  });

  it('streams job events over SSE until the job finishes', async () => {
    const r = await enrollRunner('t1', 'default', 'sse');
    const req = job();
    await call(gw, 'POST', '/v1/jobs', req, asTenant('t1'));
    const https = await import('node:https');
    const chunks: string[] = [];
    const streamDone = new Promise<void>((resolve, reject) => {
      const sreq = https.request(`${jf.url}/v1/jobs/${req.id}/events`, { agent: gw, headers: asTenant('t1') }, (res) => {
        expect(res.headers['content-type']).toContain('text/event-stream');
        res.on('data', (c: Buffer) => chunks.push(c.toString()));
        res.on('end', () => resolve());
      });
      sreq.on('error', reject);
      sreq.end();
    });
    const env = (await call(r.agent, 'POST', '/runner/v1/claim', { max: 1, waitMs: 1000 })).body.jobs[0];
    await call(r.agent, 'POST', `/runner/v1/jobs/${req.id}/progress`, { leaseId: env.leaseId, fencingToken: env.fencingToken, pct: 50 });
    await complete(r, env, {});
    await streamDone;
    const text = chunks.join('');
    const types = [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(types).toEqual(['job.created', 'job.queued', 'job.started', 'job.progress', 'job.completed']);
  });

  it('records security-relevant actions, refused ones included, in a chain that verifies', async () => {
    const r = await enrollRunner('t1', 'default', 'audited');
    const req = job();
    await call(gw, 'POST', '/v1/jobs', req, asTenant('t1'));
    await call(gw, 'POST', `/v1/jobs/${req.id}/cancel`, undefined, asTenant('t1'));
    await call(r.agent, 'GET', '/v1/jobs', undefined, asTenant('t2')); // a runner posing as the gateway
    await call(gw, 'POST', `/v1/runners/${r.runnerId}/revoke`, undefined, asTenant('t1'));
    await new Promise((res) => setTimeout(res, 200));
    const { events } = await queryAudit(db, { tenantId: 't1', limit: 200 });
    const seen = events.map((e) => `${e.action}:${e.outcome}`);
    expect(seen).toEqual(
      expect.arrayContaining([
        'runner.enrolled:success',
        'runner.registered:success',
        'job.submitted:success',
        'job.cancelled:success',
        'runner.revoked:success',
        'join_token.created:success',
      ]),
    );
    const submitted = events.find((e) => e.action === 'job.submitted' && e.resource?.id === req.id);
    expect(submitted).toMatchObject({ actor: { kind: 'apikey', id: 'apikey:test-t1' }, outcome: 'success' });
    expect(JSON.stringify(events)).not.toContain('cpjt_'); // join tokens never reach the audit log
    const all = await queryAudit(db, { limit: 1000 });
    expect(all.events.some((e) => e.action === 'service.started' && e.actor.id === 'jobforge')).toBe(true);
    expect((await verifyAuditChain(db)).ok).toBe(true);
  });

  it('answers bad input with envelopes, never a 5xx', async () => {
    const r = await enrollRunner('t1', 'default', 'fuzz');
    const cases: Array<[Agent, 'GET' | 'POST', string, unknown]> = [
      [gw, 'POST', '/v1/jobs', { id: 'nope' }],
      [gw, 'POST', '/v1/jobs', []],
      [gw, 'GET', '/v1/jobs/not-a-uuid', undefined],
      [gw, 'GET', '/v1/jobs?limit=100000', undefined],
      [gw, 'GET', '/v1/jobs?cursor=garbage', undefined],
      [r.agent, 'POST', '/runner/v1/claim', { max: -1 }],
      [r.agent, 'POST', `/runner/v1/jobs/${randomUUID()}/complete`, { leaseId: 'x' }],
      [r.agent, 'POST', `/runner/v1/jobs/${randomUUID()}/complete`, { leaseId: randomUUID(), fencingToken: '12' }],
    ];
    for (const [agent, method, path, body] of cases) {
      const res = await call(agent, method, path, body, agent === gw ? asTenant('t1') : {});
      expect(res.status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${method} ${path}`).toBeLessThan(500);
      expect(res.body.error.code).toBeTypeOf('string');
    }
  });
});
