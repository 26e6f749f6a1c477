// Every gateway route that answers with an ecosystem contract (JobResponse, JobEvent, TruthAssertion,
// TruthQuery results, HealthCheck, ErrorEnvelope), run for real (the system as `controlplane dev`
// composes it, a real runner with the demo handlers), each answer checked against the contract as
// SPEC.md publishes it (test/support/ecosystem-contracts.ts). Any drift fails here.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_HANDLERS_MODULE, enrollRunner, RunnerAgent } from '@controlplane/runner';
import {
  EcoErrorBody,
  EcoHealthCheck,
  EcoJobEvent,
  EcoJobResponse,
  EcoTruthAssertion,
  EcoTruthQueryResult,
  expectContract,
} from '../../../test/support/ecosystem-contracts.js';
import { silent, startDevSystem, type Answer, type DevSystem } from './support/dev-system.js';

describe('every contract answer, as the ecosystem publishes the contract', () => {
  let dev: DevSystem;
  let runner: RunnerAgent;
  const call = (method: string, path: string, body?: unknown, o: { sign?: boolean; readStream?: boolean } = {}): Promise<Answer> =>
    dev.call(method, path, body, o);

  const job = (type: string, data: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    id: randomUUID(),
    type,
    payload: { type, data },
    metadata: { source: 'contract-test', createdAt: new Date().toISOString() },
    ...extra,
  });

  /** Long-polls the job until it has finished. */
  const finished = async (id: string) => {
    for (let i = 0; i < 20; i++) {
      const res = await call('GET', `/jobs/${id}?waitMs=5000`);
      if (['completed', 'failed', 'cancelled'].includes(res.body?.status)) return res;
    }
    throw new Error(`job ${id} did not finish`);
  };

  beforeAll(async () => {
    dev = await startDevSystem('cp-contracts-');
    const token = await call('POST', '/admin/join-tokens', { ttlSeconds: 120 }, { sign: true });
    expect(token.status).toBe(201);
    await enrollRunner({
      joinToken: token.body.token,
      enrollUrl: dev.system.jobforge.enrollUrl,
      caFile: join(dev.pki.dir, 'ca.crt'),
      dir: join(dev.dir, 'runner'),
      name: 'contract-test',
    });
    runner = new RunnerAgent({
      dir: join(dev.dir, 'runner'),
      handlersModule: DEMO_HANDLERS_MODULE,
      logger: silent('runner'),
      drainTimeoutMs: 1_000,
    });
    await runner.start();
  });

  afterAll(async () => {
    await runner?.stop();
    await dev?.close();
  });

  it('GET /health is a HealthCheck', async () => {
    const res = await call('GET', '/health');
    expect(res.status).toBe(200);
    expectContract(EcoHealthCheck, res.body, 'GET /health');
  });

  it('submission, reads, lists, batches, completed and failed jobs are JobResponses; events are JobEvents', async () => {
    const ok = job('echo', { items: ['a', 'b'], nested: { n: 1 } });
    const sub = await call('POST', '/jobs', ok);
    expect(sub.status).toBe(202);
    expectContract(EcoJobResponse, sub.body, 'POST /jobs');
    expectContract(EcoJobResponse, (await call('POST', '/jobs', ok)).body, 'POST /jobs (idempotent repeat)');
    const done = await finished(ok.id);
    expect(done.body.status).toBe('completed');
    expectContract(EcoJobResponse, done.body, 'GET /jobs/:id (completed)');

    const bad = job('flaky', { failTimes: 5 }, { retryPolicy: { maxRetries: 0 } });
    expect((await call('POST', '/jobs', bad)).status).toBe(202);
    const failed = await finished(bad.id);
    expect(failed.body.status).toBe('failed');
    expectContract(EcoJobResponse, failed.body, 'GET /jobs/:id (failed)');
    expect(failed.body.error).toBeDefined();

    const batch = await call('POST', '/jobs/batch', { jobs: [job('echo', { i: 1 }), job('echo', { i: 2 })] });
    expect(batch.status).toBe(202);
    for (const j of batch.body.jobs) expectContract(EcoJobResponse, j, 'POST /jobs/batch item');

    const list = await call('GET', '/jobs?limit=50');
    expect(list.status).toBe(200);
    expect(list.body.jobs.length).toBeGreaterThanOrEqual(4);
    for (const j of list.body.jobs) expectContract(EcoJobResponse, j, 'GET /jobs item');

    const events = await call('GET', `/jobs/${ok.id}/events`, undefined, { readStream: true });
    expect(events.status).toBe(200);
    const data = events.text
      .split('\n')
      .filter((l) => l.startsWith('data: '))
      .map((l) => JSON.parse(l.slice(6)) as unknown);
    expect(data.length).toBeGreaterThanOrEqual(3);
    for (const e of data) expectContract(EcoJobEvent, e, 'GET /jobs/:id/events event');
  });

  it('cancel and retry answer JobResponses', async () => {
    const later = job(
      'echo',
      { x: 1 },
      {
        metadata: {
          source: 'contract-test',
          createdAt: new Date().toISOString(),
          scheduledAt: new Date(Date.now() + 3_600_000).toISOString(),
        },
      },
    );
    expect((await call('POST', '/jobs', later)).status).toBe(202);
    const cancelled = await call('POST', `/jobs/${later.id}/cancel`, undefined, { sign: true });
    expect(cancelled.status).toBe(200);
    expectContract(EcoJobResponse, cancelled.body, 'POST /jobs/:id/cancel');
    const retried = await call('POST', `/jobs/${later.id}/retry`, undefined, { sign: true });
    expect(retried.status).toBe(200);
    expectContract(EcoJobResponse, retried.body, 'POST /jobs/:id/retry');
  });

  it('assertions and queries are TruthAssertions and TruthQuery results', async () => {
    const assertion = {
      id: randomUUID(),
      subject: 'device:c1',
      predicate: 'temperature',
      object: { celsius: 21.5 },
      source: 'sensor',
      timestamp: new Date().toISOString(),
    };
    const made = await call('POST', '/assert', assertion);
    expect(made.status).toBe(201);
    expectContract(EcoTruthAssertion, made.body, 'POST /assert');
    const read = await call('GET', `/assertions/${assertion.id}`);
    expect(read.status).toBe(200);
    expectContract(EcoTruthAssertion, read.body, 'GET /assertions/:id');
    const found = await call('POST', '/query', { pattern: { subject: 'device:c1' } });
    expect(found.status).toBe(200);
    expectContract(EcoTruthQueryResult, found.body, 'POST /query');
    expect(found.body.assertions).toHaveLength(1);
  });

  it('refusals are ErrorEnvelopes whose detail paths are arrays of strings', async () => {
    const tags = await call('POST', '/jobs', { ...job('echo', {}), metadata: { source: 'x', createdAt: 'yesterday', tags: ['ok', 7] } });
    expect(tags.status).toBe(400);
    expect(tags.body.error.details.map((d: { path: string[] }) => d.path)).toEqual(
      expect.arrayContaining([
        ['metadata', 'createdAt'],
        ['metadata', 'tags', '1'],
      ]),
    );
    const batch = await call('POST', '/jobs/batch', { jobs: [job('echo', {}), { id: 'nope' }] });
    expect(batch.body.error.details.map((d: { path: string[] }) => d.path)).toContainEqual(['jobs', '1', 'id']);

    const typed = await call(
      'PUT',
      '/admin/job-types/typed-contract',
      { inputSchema: { type: 'object', properties: { items: { type: 'array', items: { type: 'string' } } } } },
      { sign: true },
    );
    expect(typed.status).toBe(200);
    const mismatch = await call('POST', '/jobs', job('typed-contract', { items: ['a', 7] }));
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error).toMatchObject({ code: 'SCHEMA_MISMATCH', details: [{ path: ['payload', 'data', 'items', '1'] }] });

    await call('GET', `/jobs/${randomUUID()}`);
    await call('GET', '/jobs/not-a-uuid');
    await call('GET', '/nowhere');
    await call('POST', '/query', { limit: 0, filters: { minConfidence: 2 } });
    await call('GET', `/assertions/${randomUUID()}`);
    await call('POST', `/jobs/${randomUUID()}/cancel`);
    expect(dev.errors.length).toBeGreaterThanOrEqual(9);
    for (const e of dev.errors) expectContract(EcoErrorBody, e.body, e.what);
  });
});
