// Push dispatch (POST /runner/v1/dispatch) over real mTLS on real PostgreSQL and Redis: leases come
// down an open stream as jobs arrive, never more than the runner's credits; a cut stream loses
// nothing; a revoked or draining runner's stream ends; lines that are not credits end the stream.
import { request, type Agent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyJobEnvelopes } from '@controlplane/platform';
import { envelopeSignatureFields, type Database } from '@controlplane/server';
import { startJobforgeHarness, type JobforgeHarness } from './support/jobforge-harness.js';
import { job } from './support/queue-conformance.js';
import { runnerCalls, type LeasedEnvelope } from './support/runner-calls.js';

/** A raw dispatch stream, so that the test can also send what a real runner never would. */
function openStream(url: string, agent: Agent, firstLine: string) {
  const batches: { jobs: LeasedEnvelope[]; signature: string }[] = [];
  let keepAlives = 0;
  let notify: (() => void) | undefined;
  let status = 0;
  let body = '';
  const req = request(`${url}/runner/v1/dispatch`, {
    method: 'POST',
    agent,
    headers: { 'content-type': 'application/x-ndjson' },
  });
  const ended = new Promise<void>((resolve) => {
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      res.setEncoding('utf8');
      let pending = '';
      res.on('data', (chunk: string) => {
        body += chunk;
        pending += chunk;
        for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
          const line = JSON.parse(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
          if (line.jobs) batches.push(line);
          else keepAlives++;
        }
        notify?.();
      });
      res.on('close', resolve);
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
  });
  req.write(firstLine);
  const leased = () => batches.flatMap((b) => b.jobs);
  return {
    batches,
    ended,
    leased,
    get status() {
      return status;
    },
    get body() {
      return body;
    },
    get keepAlives() {
      return keepAlives;
    },
    send: (line: string) => req.write(line),
    destroy: () => req.destroy(),
    /** Resolves once `n` leases have arrived in all. */
    async waitForLeases(n: number): Promise<LeasedEnvelope[]> {
      while (leased().length < n) {
        const more = new Promise<void>((resolve) => (notify = resolve));
        const result = await Promise.race([more.then(() => 'more'), ended.then(() => 'ended')]);
        if (result === 'ended' && leased().length < n) throw new Error(`stream ended with ${leased().length} of ${n} leases`);
      }
      return leased();
    },
  };
}

describe('push dispatch over mTLS', () => {
  let h: JobforgeHarness;
  let db: Database;
  const { call, asTenant, enrollRunner, complete, heartbeat } = runnerCalls(() => h);
  const submit = async (tenant: string) => {
    const req = job();
    expect((await call(h.gw, 'POST', '/v1/jobs', req, asTenant(tenant))).status).toBe(202);
    return req.id;
  };
  const statusOf = async (tenant: string, id: string) =>
    (await call(h.gw, 'GET', `/v1/jobs/${id}`, undefined, asTenant(tenant))).body.status;
  const tenant = async (id: string) => db.query(`insert into tenants (id, name) values ($1, $1) on conflict do nothing`, [id]);

  beforeAll(async () => {
    h = await startJobforgeHarness({ leaseMs: 3_000 });
    db = h.db;
  });

  afterAll(async () => {
    await h?.close();
  });

  it('pushes signed leases as jobs arrive, never more than the credits given, and more as credits come', async () => {
    await tenant('t-push');
    const r = await enrollRunner('t-push', 'default', 'pushed');
    const s = openStream(h.jf.url, r.agent, `${JSON.stringify({ credits: 2 })}\n`);
    const ids = [await submit('t-push'), await submit('t-push'), await submit('t-push')];
    const first = await s.waitForLeases(2);
    for (const b of s.batches) {
      expect(verifyJobEnvelopes(b.jobs.map(envelopeSignatureFields as never), r.registration.jobforgeCertificatePem, b.signature)).toBe(
        true,
      );
    }
    // Two credits, two leases: the third job waits, queued, however long the stream stays open.
    await sleep(300);
    const third = ids.find((id) => !first.some((e) => e.jobId === id))!;
    expect(await statusOf('t-push', third)).toBe('queued');
    expect(s.leased()).toHaveLength(2);
    for (const env of first) expect((await complete(r, env, { ok: true })).status).toBe(200);
    s.send(`${JSON.stringify({ credits: 1 })}\n`);
    const all = await s.waitForLeases(3);
    expect(all.map((e) => e.jobId).sort()).toEqual([...ids].sort());
    expect((await complete(r, all[2]!, { ok: true })).status).toBe(200);
    s.destroy();
    await s.ended;
  });

  it('gives a runner only its own tenant’s jobs of its registered types', async () => {
    await tenant('t-own');
    await tenant('t-foreign');
    const r = await enrollRunner('t-own', 'default', 'own');
    const s = openStream(h.jf.url, r.agent, `${JSON.stringify({ credits: 5, types: ['echo', 'not-registered'] })}\n`);
    const foreign = await submit('t-foreign');
    const own = await submit('t-own');
    const [env] = await s.waitForLeases(1);
    expect(env).toMatchObject({ jobId: own, tenantId: 't-own' });
    await sleep(300);
    expect(s.leased()).toHaveLength(1);
    expect(await statusOf('t-foreign', foreign)).toBe('queued');
    await complete(r, env!, {});
    s.destroy();
    await s.ended;
  });

  it('loses nothing when a stream is cut: the lease it carried is still the runner’s to finish, the next job waits', async () => {
    await tenant('t-cut');
    const r = await enrollRunner('t-cut', 'default', 'cut');
    const s = openStream(h.jf.url, r.agent, `${JSON.stringify({ credits: 4 })}\n`);
    const a = await submit('t-cut');
    const [env] = await s.waitForLeases(1);
    s.destroy();
    await s.ended;
    // The job submitted after the cut is not leased to a stream nobody reads.
    const b = await submit('t-cut');
    await sleep(300);
    expect(await statusOf('t-cut', b)).toBe('queued');
    expect((await complete(r, env!, { done: a })).body).toMatchObject({ status: 'completed', duplicate: false });
    const again = openStream(h.jf.url, r.agent, `${JSON.stringify({ credits: 1 })}\n`);
    const [next] = await again.waitForLeases(1);
    expect(next!.jobId).toBe(b);
    await complete(r, next!, {});
    again.destroy();
    expect(await statusOf('t-cut', a)).toBe('completed');
  });

  it('ends the stream of a runner revoked while it is open, and refuses it a new one', async () => {
    await tenant('t-revoke');
    const r = await enrollRunner('t-revoke', 'default', 'revoked');
    const s = openStream(h.jf.url, r.agent, `${JSON.stringify({ credits: 3 })}\n`);
    await sleep(200);
    expect((await call(h.gw, 'POST', `/v1/runners/${r.runnerId}/revoke`, undefined, asTenant('t-revoke'))).body.status).toBe('revoked');
    await s.ended;
    const id = await submit('t-revoke');
    expect(s.leased()).toEqual([]);
    const again = openStream(h.jf.url, r.agent, `${JSON.stringify({ credits: 3 })}\n`);
    await again.ended;
    expect(again.status === 0 || again.status === 401).toBe(true);
    if (again.status === 401) expect(JSON.parse(again.body).error.code).toBe('CERTIFICATE_REVOKED');
    expect(await statusOf('t-revoke', id)).toBe('queued');
  });

  it('gives a draining runner no stream, and ends an open one at its next look at the runner', async () => {
    await tenant('t-drain-stream');
    const r = await enrollRunner('t-drain-stream', 'default', 'drainer');
    expect((await heartbeat(r, 'draining')).status).toBe(200);
    const refused = openStream(h.jf.url, r.agent, `${JSON.stringify({ credits: 3 })}\n`);
    await refused.ended;
    expect(refused.status).toBe(409);
    expect(JSON.parse(refused.body).error.code).toBe('INVALID_STATE');
    // A stream opened before the drain: the lease statement itself checks the runner, so work that
    // arrives after the drain is not given to it.
    const other = await enrollRunner('t-drain-stream', 'default', 'late-drainer');
    const s = openStream(h.jf.url, other.agent, `${JSON.stringify({ credits: 3 })}\n`);
    await sleep(200);
    expect((await heartbeat(other, 'draining')).status).toBe(200);
    const id = await submit('t-drain-stream');
    await sleep(500);
    expect(s.leased()).toEqual([]);
    expect(await statusOf('t-drain-stream', id)).toBe('queued');
    s.destroy();
  });

  it('ends a stream whose lines are not credits, leasing nothing', async () => {
    await tenant('t-garbage');
    const r = await enrollRunner('t-garbage', 'default', 'garbage');
    const id = await submit('t-garbage');
    for (const line of [
      '{"credits": 100000}\n',
      '{"credits": -1}\n',
      '{"credits": 1.5}\n',
      'not json\n',
      `${JSON.stringify({ credits: 1, types: ['x'.repeat(300)] })}\n`,
      'x'.repeat(20_000),
    ]) {
      const s = openStream(h.jf.url, r.agent, line);
      await s.ended;
      expect(s.leased()).toEqual([]);
    }
    expect(await statusOf('t-garbage', id)).toBe('queued');
    // The runner itself is fine: a proper stream gets the job.
    const s = openStream(h.jf.url, r.agent, '{"credits": 1}\n');
    const [env] = await s.waitForLeases(1);
    expect(env!.jobId).toBe(id);
    await complete(r, env!, {});
    s.destroy();
  });
});
