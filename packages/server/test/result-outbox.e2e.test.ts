// JobForge delivers recorded results to TruthCore through a transactional outbox: with TruthCore
// stopped in the middle of a run, jobs keep completing, and once it is back every result arrives
// exactly once, with its provenance verifiable.
import { createServer } from 'node:net';
import type { Agent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildSpiffeId,
  createLogger,
  createMtlsAgent,
  requestJson,
  resultDigest,
  signJobResult,
  type JsonResponse,
} from '@controlplane/platform';
import {
  AuditLog,
  createPostgresDatabase,
  migrate,
  PostgresQueue,
  queryAudit,
  startJobforge,
  startTruthcore,
  verifyAuditChain,
  type Database,
  type JobforgeServer,
  type TruthcoreServer,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { createKeyPairAndCsr, createPkiFixture, TRUST_DOMAIN, type PkiFixture } from './support/pki-fixture.js';
import { job, seedTenants } from './support/queue-conformance.js';

const logger = createLogger({ service: 'test', level: 'silent' });

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

describe('result outbox to TruthCore', () => {
  let pki: PkiFixture;
  let tdb: TestDatabase;
  let db: Database;
  /** The services' pool: the production default, so their work outside a data scope sees nothing. */
  let serviceDb: Database;
  let jf: JobforgeServer;
  let tc: TruthcoreServer | undefined;
  let tcPort: number;
  let gw: Agent;
  let gwTc: Agent;
  let runner: { agent: Agent; keyPem: string };

  const call = (
    agent: Agent,
    method: 'GET' | 'POST',
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<JsonResponse<any>> => requestJson({ url, method, body, agent, headers, timeoutMs: 10_000 });
  const asT1 = { 'x-cp-tenant': 't1', 'x-cp-actor': 'apikey:outbox-test' };
  const startTc = async () => {
    tc = await startTruthcore({
      db: serviceDb,
      logger,
      tls: pki.material('truthcore'),
      trustDomain: TRUST_DOMAIN,
      caCertPem: pki.ca.certPem,
      listen: { host: '127.0.0.1', port: tcPort },
      audit: new AuditLog(serviceDb),
    });
  };

  beforeAll(async () => {
    pki = await createPkiFixture();
    tdb = await createTestDatabase();
    db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 4 });
    serviceDb = createPostgresDatabase({ connectionString: tdb.url, maxConnections: 12, applicationName: 'outbox-services' });
    await migrate(db);
    await seedTenants(db);
    tcPort = await freePort();
    await startTc();
    const toTruthcore = createMtlsAgent(pki.material('jobforge'), {
      trustDomain: TRUST_DOMAIN,
      expectedServerId: buildSpiffeId(TRUST_DOMAIN, 'service', 'truthcore'),
      keepAlive: false,
    });
    jf = await startJobforge({
      db: serviceDb,
      queue: ({ db, store }) => new PostgresQueue(db, store),
      logger,
      tls: pki.material('jobforge'),
      trustDomain: TRUST_DOMAIN,
      ca: pki.ca,
      listen: { host: '127.0.0.1', port: 0 },
      enrollListen: { host: '127.0.0.1', port: 0 },
      truthcore: { url: `https://127.0.0.1:${tcPort}`, agent: toTruthcore },
      outboxIntervalMs: 100,
    });
    gw = pki.serviceAgent('gateway', 'jobforge');
    gwTc = pki.serviceAgent('gateway', 'truthcore');
    const tok = await call(gw, 'POST', `${jf.url}/v1/join-tokens`, {}, asT1);
    const { keyPem, csrPem } = await createKeyPairAndCsr({ commonName: 'outbox' });
    const enr = await call(pki.anonymousAgent(), 'POST', `${jf.enrollUrl}/enroll`, {
      joinToken: tok.body.token,
      csr: csrPem,
      name: 'outbox',
    });
    const { agent } = pki.runnerAgent(`outbox-${enr.body.runnerId}`, keyPem, enr.body.certificatePem);
    runner = { agent, keyPem };
    await call(agent, 'POST', `${jf.url}/runner/v1/register`, {
      name: 'outbox',
      version: '1.0.0',
      contractVersion: '1.0.0',
      capabilities: [{ id: 'echo', name: 'echo', version: '1.0.0', supportedJobTypes: ['echo'] }],
    });
  });

  afterAll(async () => {
    await jf?.close();
    await tc?.close();
    pki?.cleanup();
    await serviceDb?.close();
    await db?.close();
    await tdb?.drop();
  });

  async function runJobs(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const req = job({ payload: { type: 'echo', data: { i } } });
      ids.push(req.id);
      expect((await call(gw, 'POST', `${jf.url}/v1/jobs`, req, asT1)).status).toBe(202);
    }
    let left = n;
    while (left > 0) {
      const claim = await call(runner.agent, 'POST', `${jf.url}/runner/v1/claim`, { max: left, waitMs: 1000 });
      for (const env of claim.body.jobs) {
        const data = { echoed: env.payload.data };
        const signature = signJobResult(
          {
            jobId: env.jobId,
            tenantId: env.tenantId,
            attempt: env.attempt,
            fencingToken: env.fencingToken,
            outcome: 'completed',
            resultDigest: resultDigest(data),
          },
          runner.keyPem,
        );
        const res = await call(runner.agent, 'POST', `${jf.url}/runner/v1/jobs/${env.jobId}/complete`, {
          leaseId: env.leaseId,
          fencingToken: env.fencingToken,
          attempt: env.attempt,
          type: env.type,
          data,
          signature,
        });
        expect(res.body.status).toBe('completed');
        left--;
      }
    }
    return ids;
  }

  async function waitDrained(timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    while ((await jf.outbox!.pending()) > 0) {
      if (Date.now() > deadline) throw new Error(`outbox still has ${await jf.outbox!.pending()} results`);
      await sleep(100);
    }
  }

  it('keeps completing jobs while TruthCore is down and delivers every result exactly once later', async () => {
    const first = await runJobs(5);
    await waitDrained();

    await tc!.close();
    tc = undefined;
    const during = await runJobs(8);
    for (const id of during) expect((await call(gw, 'GET', `${jf.url}/v1/jobs/${id}`, undefined, asT1)).body.status).toBe('completed');
    await sleep(500);
    expect(await jf.outbox!.pending()).toBe(8);
    const retried = await db.query<{ n: number }>(
      `select count(*)::int as n from result_outbox where attempts > 0 and delivered_at is null`,
    );
    expect(retried.rows[0]!.n).toBeGreaterThan(0);

    await startTc();
    await waitDrained();
    const all = [...first, ...during];
    const prov = await db.query<{ job_id: string; n: number }>(
      `select job_id, count(*)::int as n from truth_job_provenance where tenant_id = 't1' and job_id = any($1::uuid[]) group by job_id`,
      [all],
    );
    expect(prov.rows).toHaveLength(all.length);
    expect(prov.rows.every((r) => r.n === 1)).toBe(true);
    for (const id of [first[0]!, during[0]!]) {
      const p = await call(gwTc, 'GET', `https://127.0.0.1:${tcPort}/v1/jobs/${id}/provenance`, undefined, asT1);
      expect(p.status).toBe(200);
      expect(JSON.stringify(p.body)).toContain('"signatureValid":true');
    }
    // Delivering a row again (as after a crash between send and mark) records nothing twice.
    await db.query(`update result_outbox set delivered_at = null, next_attempt_at = now() where job_id = $1`, [first[0]]);
    await waitDrained();
    const again = await db.query<{ n: number }>(`select count(*)::int as n from truth_job_provenance where job_id = $1`, [first[0]]);
    expect(again.rows[0]!.n).toBe(1);
  });

  it("delivers a runner's signed failures attempt by attempt, with the report it signed; an unsigned one is refused and queues nothing", async () => {
    const claimOne = async () => {
      for (;;) {
        const claim = await call(runner.agent, 'POST', `${jf.url}/runner/v1/claim`, { max: 1, waitMs: 1000 });
        if (claim.body.jobs.length > 0) return claim.body.jobs[0];
      }
    };
    const failWith = async (env: any, message: string, signed = true) => {
      const error = { category: 'RUNTIME_ERROR', code: 'HANDLER_FAILED', message, retryable: true };
      const signature = signJobResult(
        {
          jobId: env.jobId,
          tenantId: env.tenantId,
          attempt: env.attempt,
          fencingToken: env.fencingToken,
          outcome: 'failed',
          resultDigest: resultDigest(error),
        },
        runner.keyPem,
      );
      const res = await call(runner.agent, 'POST', `${jf.url}/runner/v1/jobs/${env.jobId}/fail`, {
        leaseId: env.leaseId,
        fencingToken: env.fencingToken,
        error,
        ...(signed ? { signature } : {}),
      });
      expect(res.status).toBe(200);
    };
    const req = job({
      payload: { type: 'echo', data: { fails: true } },
      retryPolicy: { maxRetries: 1, backoffMs: 10, maxBackoffMs: 10, backoffMultiplier: 1 },
    });
    expect((await call(gw, 'POST', `${jf.url}/v1/jobs`, req, asT1)).status).toBe(202);
    await failWith(await claimOne(), 'first attempt: disk full');
    await failWith(await claimOne(), 'second attempt: still full');
    expect((await call(gw, 'GET', `${jf.url}/v1/jobs/${req.id}`, undefined, asT1)).body.status).toBe('failed');
    await waitDrained();

    const p = await call(gwTc, 'GET', `https://127.0.0.1:${tcPort}/v1/jobs/${req.id}/provenance`, undefined, asT1);
    expect(p.status).toBe(200);
    expect(p.body.records).toHaveLength(2);
    expect(
      p.body.records.map((r: any) => [r.attempt, r.outcome, r.signatureValid, r.failure.message, r.result.error.message, r.result.success]),
    ).toEqual([
      [1, 'failed', true, 'first attempt: disk full', 'first attempt: disk full', false],
      [2, 'failed', true, 'second attempt: still full', 'second attempt: still full', false],
    ]);
    const status = await call(
      gwTc,
      'POST',
      `https://127.0.0.1:${tcPort}/v1/query`,
      { pattern: { subject: `job:${req.id}`, predicate: 'status' } },
      asT1,
    );
    expect(status.body.assertions.map((a: { object: unknown }) => a.object)).toEqual(['failed', 'failed']);

    // A report stored encrypted, met by a JobForge without a cipher, is kept for a retry: neither
    // sent as ciphertext (TruthCore would refuse the signature for good) nor rejected.
    const sealed = `cpenc:v1:k1:${'A'.repeat(16)}:${'B'.repeat(40)}`;
    await db.query(
      `update result_outbox set failure = jsonb_set(failure, '{message}', to_jsonb($2::text)), delivered_at = null, attempts = 0, next_attempt_at = now()
        where job_id = $1 and attempt = 1`,
      [req.id, sealed],
    );
    for (let i = 0; i < 50; i++) {
      const row = await db.query<{ attempts: number }>(`select attempts from result_outbox where job_id = $1 and attempt = 1`, [req.id]);
      if (row.rows[0]!.attempts > 0) break;
      await sleep(50);
    }
    const kept = await db.query(`select delivered_at, rejected_at, last_error from result_outbox where job_id = $1 and attempt = 1`, [
      req.id,
    ]);
    expect(kept.rows[0]).toEqual({ delivered_at: null, rejected_at: null, last_error: 'result is encrypted and no cipher is configured' });
    await db.query(`update result_outbox set delivered_at = now() where job_id = $1 and attempt = 1`, [req.id]);

    // A failure without the runner's signature is refused, and nothing is queued for TruthCore.
    const unsigned = job({
      payload: { type: 'echo', data: { unsigned: true } },
      retryPolicy: { maxRetries: 0, backoffMs: 10, maxBackoffMs: 10, backoffMultiplier: 1 },
    });
    expect((await call(gw, 'POST', `${jf.url}/v1/jobs`, unsigned, asT1)).status).toBe(202);
    const env = await claimOne();
    const refused = await call(runner.agent, 'POST', `${jf.url}/runner/v1/jobs/${env.jobId}/fail`, {
      leaseId: env.leaseId,
      fencingToken: env.fencingToken,
      error: { category: 'RUNTIME_ERROR', message: 'x', retryable: false },
    });
    expect([refused.status, refused.body.error.code]).toEqual([403, 'ENVELOPE_SIGNATURE_INVALID']);
    const queued = await db.query<{ n: number }>(`select count(*)::int as n from result_outbox where job_id = $1`, [unsigned.id]);
    expect(queued.rows[0]!.n).toBe(0);
  });

  it('audits recorded results and refuses (and audits) a result write from anyone but JobForge', async () => {
    const forged = await call(gwTc, 'POST', `https://127.0.0.1:${tcPort}/v1/results`, {
      tenantId: 't1',
      jobId: '00000000-0000-4000-8000-000000000001',
    });
    expect(forged.status).toBe(403);
    await sleep(100);
    const { events } = await queryAudit(db, { tenantId: 't1', limit: 500 });
    expect(events.filter((e) => e.action === 'job_result.recorded' && e.outcome === 'success').length).toBeGreaterThanOrEqual(13);
    expect(events.some((e) => e.action === 'job_result.recorded' && e.outcome === 'denied' && e.actor.id === 'gateway')).toBe(true);
    const system = await queryAudit(db, { limit: 1000 });
    expect(system.events.some((e) => e.action === 'service.started' && e.actor.id === 'truthcore')).toBe(true);
    expect((await verifyAuditChain(db)).ok).toBe(true);
  });
});
