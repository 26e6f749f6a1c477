// Coalesced submissions (gateway → JobForge as one message, POST /v1/jobs/submissions): each caller
// keeps its own answer, envelope, tenant scope, idempotency and audit record; only the gateway may
// send them; and JobForge going away under load loses and doubles nothing. Real gateway, JobForge,
// PostgreSQL and Redis over mTLS.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_COALESCED_SUBMISSIONS } from '@controlplane/contracts';
import { requestJson } from '@controlplane/platform';
import { PostgresQueue, startJobforge, type JobforgeServer } from '@controlplane/server';
import {
  createGatewayHarness,
  expectNoInternals,
  jobRequest,
  logger,
  MemoryAudit,
  type GatewayHarness,
} from './support/gateway-harness.js';
import { TRUST_DOMAIN } from './support/pki-fixture.js';

let h: GatewayHarness;
const started = new Set<JobforgeServer>();

async function jobforgeWithAudit(audit: MemoryAudit): Promise<JobforgeServer> {
  const jf = await startJobforge({
    db: h.db,
    queue: ({ db, store }) => new PostgresQueue(db, store),
    logger,
    tls: h.pki.material('jobforge'),
    trustDomain: TRUST_DOMAIN,
    ca: h.pki.ca,
    listen: { host: '127.0.0.1', port: 0 },
    enrollListen: { host: '127.0.0.1', port: 0 },
    duties: false,
    audit,
  });
  started.add(jf);
  return jf;
}

beforeAll(async () => {
  h = await createGatewayHarness();
});
afterAll(async () => {
  await Promise.all([...started].map((jf) => jf.close()));
  await h?.cleanup();
});

describe('coalesced submissions through the gateway', () => {
  it('travel to JobForge together, each answered, audited and kept in its own tenant', async () => {
    const audit = new MemoryAudit();
    const jf = await jobforgeWithAudit(audit);
    const g = await h.startGateway({}, { jobforgeUrl: jf.url, redisScope: 'coalesce-mixed' });
    const submit = (key: typeof h.keys.submitter, body: unknown) => h.client.call(g.url, 'POST', '/jobs', { key, body });

    const ta = Array.from({ length: 15 }, () => jobRequest());
    const tb = Array.from({ length: 15 }, () => jobRequest());
    const invalid = Array.from({ length: 5 }, () => jobRequest({ payload: undefined }));
    const first = await Promise.all([
      ...ta.map((j) => submit(h.keys.submitter, j)),
      ...tb.map((j) => submit(h.keys.otherTenantAdmin, j)),
      ...invalid.map((j) => submit(h.keys.submitter, j)),
    ]);
    expect(first.slice(0, 30).map((r) => r.status)).toEqual(Array(30).fill(202));
    first.slice(0, 30).forEach((r, i) => expect(r.body.id).toBe([...ta, ...tb][i]!.id));
    for (const r of first.slice(30)) {
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(r.body.error.details)).toContain('payload');
      // The envelope is this caller's: its correlation id is the one its answer carries.
      expect(r.body.error.correlationId).toBe(r.headers['x-correlation-id']);
      expectNoInternals(r);
    }
    // Fewer messages than submissions: they travelled together.
    const { messages, submissions } = g.metrics().coalesced;
    expect(submissions).toBe(35);
    expect(messages).toBeLessThan(submissions);

    // Again, concurrently: the same requests are idempotent, a changed request under a used id conflicts.
    const again = await Promise.all([
      ...ta.slice(0, 5).map((j) => submit(h.keys.submitter, j)),
      ...ta.slice(5, 10).map((j) => submit(h.keys.submitter, { ...j, payload: { type: 'echo', data: { n: 2 } } })),
    ]);
    expect(again.map((r) => r.status)).toEqual([...Array(5).fill(202), ...Array(5).fill(409)]);
    again.slice(0, 5).forEach((r, i) => expect(r.body.createdAt).toBe(first[i]!.body.createdAt));

    // Each job lives in its caller's tenant only.
    expect((await h.client.call(g.url, 'GET', `/jobs/${ta[0]!.id}`, { key: h.keys.viewer })).status).toBe(200);
    expect((await h.client.call(g.url, 'GET', `/jobs/${ta[0]!.id}`, { key: h.keys.otherTenantAdmin })).status).toBe(404);
    expect((await h.client.call(g.url, 'GET', `/jobs/${tb[0]!.id}`, { key: h.keys.viewer })).status).toBe(404);

    // One audit record per submission, under the caller's tenant, actor and correlation id.
    started.delete(jf);
    await jf.close();
    const records = audit.events.filter((e) => e.action === 'job.submitted');
    expect(records).toHaveLength(45);
    const byCorrelation = new Map(records.map((e) => [e.correlationId, e]));
    for (const [i, r] of first.entries()) {
      const record = byCorrelation.get(r.headers['x-correlation-id'] as string)!;
      expect(record).toMatchObject({
        tenantId: i < 15 || i >= 30 ? 'ta' : 'tb',
        actor: { kind: 'apikey', id: `apikey:${i < 15 || i >= 30 ? h.keys.submitter.id : h.keys.otherTenantAdmin.id}` },
        outcome: i < 30 ? 'success' : 'failure',
      });
    }
  });

  it('sends a submission too big to share a message on its own', async () => {
    const g = await h.startGateway({}, { redisScope: 'coalesce-big' });
    const big = jobRequest({ payload: { type: 'echo', data: { blob: 'x'.repeat(20_000) } } });
    const r = await h.client.call(g.url, 'POST', '/jobs', { key: h.keys.submitter, body: big });
    expect(r.status).toBe(202);
    expect(g.metrics().coalesced.submissions).toBe(0);
  });

  it('refuses coalesced submissions from any peer but a trusted service, and malformed messages', async () => {
    const post = (agent: ReturnType<GatewayHarness['pki']['serviceAgent']>, body: unknown) =>
      requestJson({ url: `${h.jf.url}/v1/jobs/submissions`, method: 'POST', body, agent, timeoutMs: 10_000 });
    const item = { tenantId: 'ta', actor: 'apikey:forged', correlationId: randomUUID(), job: jobRequest() };

    // TruthCore's certificate is valid for mTLS, but it may not submit on behalf of tenants.
    const foreign = await post(h.pki.serviceAgent('truthcore', 'jobforge'), { items: [item] });
    expect(foreign.status).toBe(403);
    expect((foreign.body as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    const asGateway = h.pki.serviceAgent('gateway', 'jobforge');
    for (const body of [
      { items: [{ ...item, tenantId: 'TA;drop' }] },
      { items: [{ ...item, actor: 'apikey:x y' }] },
      { items: [] },
      { items: Array.from({ length: MAX_COALESCED_SUBMISSIONS + 1 }, () => item) },
      { jobs: [item] },
    ]) {
      const r = await post(asGateway, body);
      expect(r.status).toBe(400);
      expect((r.body as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
    }
    const { rows } = await h.db.query<{ n: number }>(`select count(*)::int as n from jobs where id = $1`, [item.job.id]);
    expect(rows[0]!.n).toBe(0);
  });

  it('JobForge going away under load: callers get retryable 503s, and resubmitting loses and doubles nothing', async () => {
    const jf = await jobforgeWithAudit(new MemoryAudit());
    const g = await h.startGateway({ breakerThreshold: 1_000 }, { jobforgeUrl: jf.url, redisScope: 'coalesce-cut' });
    const jobs = Array.from({ length: 120 }, () => jobRequest());
    const answers = jobs.map((j, i) =>
      (async () => {
        // Spread over the cut: some are answered before it, some travel during it, some after.
        await new Promise((r) => setTimeout(r, i));
        return h.client.call(g.url, 'POST', '/jobs', { key: h.keys.submitter, body: j });
      })(),
    );
    await new Promise((r) => setTimeout(r, 40));
    started.delete(jf);
    await jf.close();
    const first = await Promise.all(answers);
    for (const r of first) {
      expect([202, 503]).toContain(r.status);
      if (r.status === 503) {
        expect(r.body.error.retryable).toBe(true);
        expectNoInternals(r);
      }
    }
    expect(first.some((r) => r.status === 503)).toBe(true);

    // The client retries every job it has no answer for, with the same id, through a gateway on
    // a JobForge that is back; it also repeats some that were accepted.
    const back = await jobforgeWithAudit(new MemoryAudit());
    const g2 = await h.startGateway({}, { jobforgeUrl: back.url, redisScope: 'coalesce-cut-2' });
    const retried = await Promise.all(jobs.map((j) => h.client.call(g2.url, 'POST', '/jobs', { key: h.keys.submitter, body: j })));
    expect(retried.map((r) => r.status)).toEqual(Array(jobs.length).fill(202));
    for (const [i, r] of first.entries()) if (r.status === 202) expect(retried[i]!.body.createdAt).toBe(r.body.createdAt);

    const { rows } = await h.db.query<{ id: string }>(`select id from jobs where id = any($1::uuid[])`, [jobs.map((j) => j.id)]);
    expect(new Set(rows.map((r) => r.id)).size).toBe(jobs.length);
    expect(rows).toHaveLength(jobs.length);
  });
});
