// JobForge's other listeners under hostile input, over real mTLS on PostgreSQL and Redis: the runner
// protocol (as an enrolled runner holding real leases), the service API (as the gateway) and the
// enrolment listener (anonymous TLS). fast-check throws arbitrary JSON and strings, NUL and unpaired
// surrogates included, at every route; none may answer 5xx, every refusal is an envelope, and the
// service still enrols, leases and completes afterwards.
import { randomUUID } from 'node:crypto';
import { request as httpsRequest, type Agent } from 'node:https';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EcoErrorBody, expectContract } from '../../../test/support/ecosystem-contracts.js';
import { hostileJson, hostileSegment, hostileString } from './support/hostile-input.js';
import { startJobforgeHarness, type JobforgeHarness } from './support/jobforge-harness.js';
import { runnerCalls, type LeasedEnvelope, type TestRunner } from './support/runner-calls.js';
import { job } from './support/queue-conformance.js';

interface Raw {
  status: number;
  text: string;
  body: any;
}

/** Sends a body exactly as given (arbitrary strings are not JSON). */
function rawCall(agent: Agent, url: string, method: string, text: string | undefined, headers: Record<string, string>): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const h: Record<string, string> = { ...headers };
    if (text !== undefined) h['content-type'] = 'application/json';
    const req = httpsRequest(url, { method, agent, headers: h, timeout: 15_000 }, (res) => {
      let t = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (t += c));
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(t);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, text: t, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} got no answer`)));
    req.on('error', reject);
    req.end(text);
  });
}

describe('jobforge listeners under arbitrary input', () => {
  let h: JobforgeHarness;
  const { call, asTenant, enrollRunner, complete } = runnerCalls(() => h);
  let runner: TestRunner;
  let leases: LeasedEnvelope[];

  beforeAll(async () => {
    h = await startJobforgeHarness({ leaseMs: 30_000 });
    runner = await enrollRunner('t1', 'default', 'fuzzed');
    for (let i = 0; i < 4; i++) expect((await call(h.gw, 'POST', '/v1/jobs', job(), asTenant('t1'))).status).toBe(202);
    leases = (await call(runner.agent, 'POST', '/runner/v1/claim', { max: 4, waitMs: 1000 })).body.jobs;
    expect(leases).toHaveLength(4);
  });
  afterAll(async () => {
    await h?.close();
  });

  const RUNNER_ROUTES = [
    'register',
    'claim',
    'heartbeat',
    'jobs/:id/progress',
    'jobs/:id/complete',
    'jobs/:id/fail',
    'jobs/:id/release',
    'outcomes',
    'renew',
  ];
  const SERVICE_ROUTES: Array<[string, string]> = [
    ['POST', '/v1/jobs'],
    ['POST', '/v1/jobs/batch'],
    ['GET', '/v1/jobs'],
    ['GET', '/v1/jobs/:id'],
    ['GET', '/v1/jobs/:id/attempts'],
    ['POST', '/v1/jobs/:id/cancel'],
    ['POST', '/v1/jobs/:id/retry'],
    ['PUT', '/v1/job-types/:id'],
    ['GET', '/v1/job-types'],
    ['POST', '/v1/join-tokens'],
    ['GET', '/v1/runners'],
    ['POST', '/v1/runners/:id/revoke'],
  ];

  const target = fc.oneof(
    fc.record({ kind: fc.constant('runner' as const), route: fc.constantFrom(...RUNNER_ROUTES), lease: fc.nat(3), realId: fc.boolean() }),
    fc.record({ kind: fc.constant('service' as const), route: fc.constantFrom(...SERVICE_ROUTES), lease: fc.nat(3), realId: fc.boolean() }),
    fc.record({ kind: fc.constant('enroll' as const), route: fc.constant('/enroll'), lease: fc.nat(3), realId: fc.constant(false) }),
  );
  const body = fc.oneof(
    hostileJson().map((v) => ({ json: v as unknown })),
    hostileString().map((s) => ({ raw: s })),
    // shaped like the real thing around a hostile value, so it gets past the outer schema
    fc.record({ v: hostileJson(), s: hostileString() }).map((v) => ({ shaped: v as unknown })),
    fc.record({ pct: fc.integer({ min: -5, max: 105 }), message: hostileString() }).map((p) => ({ progress: p })),
  );

  it('answers every route with no 5xx and an envelope for every refusal, and keeps working', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(target, body, hostileSegment(), async (t, b, segment) => {
        const env = leases[t.lease]!;
        const id = t.realId ? env.jobId : segment;
        let url: string;
        let agent: Agent;
        let headers: Record<string, string> = {};
        let method = 'POST';
        if (t.kind === 'runner') {
          url = `${h.jf.url}/runner/v1/${t.route.replace(':id', id)}`;
          agent = runner.agent;
        } else if (t.kind === 'service') {
          [method, url] = t.route as [string, string];
          url = `${h.jf.url}${url.replace(':id', id)}`;
          agent = h.gw;
          headers = asTenant('t1');
        } else {
          url = `${h.jf.enrollUrl}/enroll`;
          agent = h.pki.anonymousAgent();
        }
        let value: unknown;
        if ('raw' in b) value = undefined;
        else if ('json' in b) value = b.json;
        else if ('progress' in b) value = { leaseId: env.leaseId, fencingToken: env.fencingToken, ...b.progress };
        else if (t.kind === 'runner')
          value = {
            leaseId: env.leaseId,
            fencingToken: env.fencingToken,
            data: b.shaped,
            error: { category: 'RUNTIME_ERROR', message: String(JSON.stringify(b.shaped)).slice(0, 50), retryable: false },
          };
        else if (t.kind === 'enroll')
          value = { joinToken: 'cpjt_' + String(JSON.stringify(b.shaped)).slice(0, 20), csr: b.shaped, name: 'n' };
        else value = { ...job(), payload: { type: 'echo', data: { v: b.shaped } } };
        const text = method === 'GET' ? undefined : 'raw' in b ? b.raw : JSON.stringify(value);
        const res = await rawCall(agent, url, method, text, headers);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, `${method} ${url}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
        if (res.status >= 400) expectContract(EcoErrorBody, res.body, `${method} ${url}`);
      }),
      { numRuns: 150 },
    );
    expect(statuses.has(400)).toBe(true);

    // Still healthy: a new runner enrols, claims a new job and completes it.
    const after = await enrollRunner('t1', 'default', 'after-fuzz');
    const req = job({ id: randomUUID() });
    expect((await call(h.gw, 'POST', '/v1/jobs', req, asTenant('t1'))).status).toBe(202);
    const claimed = await call(after.agent, 'POST', '/runner/v1/claim', { max: 10, waitMs: 2000 });
    const env = claimed.body.jobs.find((j: { jobId: string }) => j.jobId === req.id);
    expect(env).toBeDefined();
    expect((await complete(after, env, { fine: true })).body).toMatchObject({ status: 'completed', duplicate: false });
  }, 300_000);
});
