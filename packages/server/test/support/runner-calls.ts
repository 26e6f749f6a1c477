// A test's side of JobForge's runner protocol over mTLS: enrol and register a runner, sign and
// report outcomes, call the service API as the gateway would for a tenant.
import type { Agent } from 'node:https';
import { expect } from 'vitest';
import { requestJson, resultDigest, signJobResult, type JsonResponse } from '@controlplane/platform';
import type { JobforgeHarness } from './jobforge-harness.js';
import { createKeyPairAndCsr } from './pki-fixture.js';

export type LeasedEnvelope = { jobId: string; tenantId: string; attempt: number; leaseId: string; fencingToken: string };
export type TestRunner = Awaited<ReturnType<ReturnType<typeof runnerCalls>['enrollRunner']>>;

export function runnerCalls(h: () => JobforgeHarness) {
  const call = (
    agent: Agent,
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    base?: string,
  ): Promise<JsonResponse<any>> => requestJson({ url: `${base ?? h().jf.url}${path}`, method, body, agent, headers, timeoutMs: 10_000 });
  const asTenant = (tenant: string) => ({ 'x-cp-tenant': tenant, 'x-cp-actor': `apikey:test-${tenant}` });

  async function enrollRunner(tenant: string, pool = 'default', name = 'r') {
    const { gw, pki, jf } = h();
    const tok = await call(gw, 'POST', '/v1/join-tokens', { pool }, asTenant(tenant));
    expect(tok.status).toBe(201);
    const { keyPem, csrPem } = await createKeyPairAndCsr({ commonName: name });
    const anon = pki.anonymousAgent();
    const enr = await call(anon, 'POST', '/enroll', { joinToken: tok.body.token, csr: csrPem, name }, {}, jf.enrollUrl);
    expect(enr.status).toBe(201);
    const { agent } = pki.runnerAgent(`${name}-${enr.body.runnerId}`, keyPem, enr.body.certificatePem);
    const reg = await call(agent, 'POST', '/runner/v1/register', {
      name,
      version: '1.0.0',
      contractVersion: '1.0.0',
      capabilities: [{ id: 'echo', name: 'Echo', version: '1.0.0', supportedJobTypes: ['echo'] }],
    });
    expect(reg.status).toBe(200);
    return {
      agent,
      keyPem,
      runnerId: enr.body.runnerId as string,
      token: tok.body.token as string,
      enrollment: enr.body,
      registration: reg.body,
    };
  }

  const sign = (keyPem: string, env: LeasedEnvelope, outcome: 'completed' | 'failed', value: unknown) =>
    signJobResult(
      {
        jobId: env.jobId,
        tenantId: env.tenantId,
        attempt: env.attempt,
        fencingToken: env.fencingToken,
        outcome,
        resultDigest: resultDigest(value),
      },
      keyPem,
    );
  const complete = (r: { agent: Agent; keyPem: string }, env: LeasedEnvelope, data: unknown, overrides: Record<string, unknown> = {}) =>
    call(r.agent, 'POST', `/runner/v1/jobs/${env.jobId}/complete`, {
      leaseId: env.leaseId,
      fencingToken: env.fencingToken,
      data,
      signature: sign(r.keyPem, env, 'completed', data),
      ...overrides,
    });
  const fail = (r: { agent: Agent; keyPem: string }, env: LeasedEnvelope, error: Record<string, unknown>) =>
    call(r.agent, 'POST', `/runner/v1/jobs/${env.jobId}/fail`, {
      leaseId: env.leaseId,
      fencingToken: env.fencingToken,
      error,
      signature: sign(r.keyPem, env, 'failed', error),
    });
  const heartbeat = (r: TestRunnerLike, status: string, leases: LeasedEnvelope[] = []) =>
    call(r.agent, 'POST', '/runner/v1/heartbeat', {
      heartbeat: { runnerId: r.runnerId, timestamp: new Date().toISOString(), status, activeJobs: leases.length, queuedJobs: 0 },
      leases: leases.map((l) => ({ jobId: l.jobId, leaseId: l.leaseId, fencingToken: l.fencingToken })),
    });

  return { call, asTenant, enrollRunner, sign, complete, fail, heartbeat };
}

type TestRunnerLike = { agent: Agent; runnerId: string };
