// Nowhere in clear: jobs carrying a marker string in their payload, options, progress, result and
// error run through the real JobForge over mTLS (Redis queue, result outbox to a real TruthCore),
// with field encryption on. Then a pg_dump of the whole database, every Redis key under the test
// prefix with its value, and every log line the services wrote are searched: the marker, the join
// token and the runner's private key appear nowhere. The API still answers the clear values.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildSpiffeId,
  createLogger,
  createMtlsAgent,
  generateKeyringFile,
  isEncrypted,
  requestJson,
  resultDigest,
  signJobResult,
  type JsonResponse,
} from '@controlplane/platform';
import {
  AuditLog,
  createPostgresDatabase,
  migrate,
  openFieldEncryption,
  RedisQueue,
  startJobforge,
  startTruthcore,
  type Database,
  type JobforgeServer,
  type TruthcoreServer,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { createTestRedis, type TestRedis } from '../../../test/support/redis.js';
import { createKeyPairAndCsr, createPkiFixture, TRUST_DOMAIN, type PkiFixture } from './support/pki-fixture.js';
import { job, seedTenants } from './support/queue-conformance.js';

const execFileP = promisify(execFile);

describe('no clear payloads, results or secrets anywhere (encryption on)', () => {
  const MARKER = `MARKER-${randomBytes(16).toString('hex')}`;
  let pki: PkiFixture;
  let tdb: TestDatabase;
  let db: Database;
  let keyDb: Database;
  let redis: TestRedis;
  let jf: JobforgeServer;
  let tc: TruthcoreServer;
  let gw: Agent;
  let gwTc: Agent;
  let dir: string;
  const logs: string[] = [];
  const secrets: string[] = [];

  const capture = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const call = (
    agent: Agent,
    method: 'GET' | 'POST',
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<JsonResponse<any>> => requestJson({ url, method, body, agent, headers, timeoutMs: 10_000 });
  const asT1 = { 'x-cp-tenant': 't1', 'x-cp-actor': 'apikey:enc-test' };

  beforeAll(async () => {
    pki = await createPkiFixture();
    tdb = await createTestDatabase();
    db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 10, applicationName: 'enc-e2e' });
    keyDb = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 2, applicationName: 'enc-e2e-keys' });
    await migrate(db);
    await seedTenants(db);
    redis = await createTestRedis();
    dir = mkdtempSync(join(tmpdir(), 'cp-enc-e2e-'));
    await generateKeyringFile(join(dir, 'keyring.json'));
    const cipher = (await openFieldEncryption({ keyringFile: join(dir, 'keyring.json'), keyDb })).cipher;

    // Everything the services log, at every level, is kept for the scan.
    const jfLogger = createLogger({ service: 'jobforge', level: 'trace', destination: capture });
    const tcLogger = createLogger({ service: 'truthcore', level: 'trace', destination: capture });
    tc = await startTruthcore({
      db,
      logger: tcLogger,
      tls: pki.material('truthcore'),
      trustDomain: TRUST_DOMAIN,
      caCertPem: pki.ca.certPem,
      listen: { host: '127.0.0.1', port: 0 },
      audit: new AuditLog(db),
      cipher,
    });
    const toTruthcore = createMtlsAgent(pki.material('jobforge'), {
      trustDomain: TRUST_DOMAIN,
      expectedServerId: buildSpiffeId(TRUST_DOMAIN, 'service', 'truthcore'),
      keepAlive: false,
    });
    jf = await startJobforge({
      db,
      queue: async ({ db, store }) => {
        const q = new RedisQueue({ redis: redis.client, keys: redis.keys, db, store, logger: jfLogger });
        await q.start();
        return q;
      },
      logger: jfLogger,
      tls: pki.material('jobforge'),
      trustDomain: TRUST_DOMAIN,
      ca: pki.ca,
      listen: { host: '127.0.0.1', port: 0 },
      enrollListen: { host: '127.0.0.1', port: 0 },
      truthcore: { url: tc.url, agent: toTruthcore },
      outboxIntervalMs: 50,
      audit: new AuditLog(db),
      cipher,
    });
    gw = pki.serviceAgent('gateway', 'jobforge');
    gwTc = pki.serviceAgent('gateway', 'truthcore');
  });

  afterAll(async () => {
    await jf?.close();
    await tc?.close();
    pki?.cleanup();
    await redis?.cleanup();
    await db?.close();
    await keyDb?.close();
    await tdb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function enrolRunner() {
    const tok = await call(gw, 'POST', `${jf.url}/v1/join-tokens`, {}, asT1);
    expect(tok.status).toBe(201);
    const { keyPem, csrPem } = await createKeyPairAndCsr({ commonName: 'enc' });
    const enr = await call(pki.anonymousAgent(), 'POST', `${jf.enrollUrl}/enroll`, { joinToken: tok.body.token, csr: csrPem, name: 'enc' });
    expect(enr.status).toBe(201);
    secrets.push(
      tok.body.token,
      keyPem
        .replace(/-----[A-Z ]+-----/g, '')
        .replace(/\s+/g, '')
        .slice(0, 48),
    );
    const { agent } = pki.runnerAgent(`enc-${enr.body.runnerId}`, keyPem, enr.body.certificatePem);
    const reg = await call(agent, 'POST', `${jf.url}/runner/v1/register`, {
      name: 'enc',
      version: '1.0.0',
      contractVersion: '1.0.0',
      capabilities: [{ id: 'echo', name: 'Echo', version: '1.0.0', supportedJobTypes: ['echo'] }],
    });
    expect(reg.status).toBe(200);
    return { agent, keyPem };
  }

  type Env = { jobId: string; tenantId: string; attempt: number; leaseId: string; fencingToken: string };
  const signed = (keyPem: string, env: Env, outcome: 'completed' | 'failed', value: unknown) =>
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

  it('runs marked jobs end to end, then finds the marker in no dump, no Redis value and no log line', async () => {
    const runner = await enrolRunner();
    const completed = job({
      payload: { type: 'echo', data: { secret: MARKER }, options: { note: MARKER } },
      metadata: { source: 'enc', createdAt: new Date().toISOString(), correlationId: 'enc-corr-1' },
    });
    const failed = job({
      payload: { type: 'echo', data: { secret: MARKER } },
      retryPolicy: { maxRetries: 0, backoffMs: 0, maxBackoffMs: 0, backoffMultiplier: 1 },
    });
    const waiting = job({ payload: { type: 'echo', data: { secret: MARKER } } });
    const later = job({
      payload: { type: 'echo', data: { secret: MARKER } },
      metadata: { source: 'enc', createdAt: new Date().toISOString(), scheduledAt: new Date(Date.now() + 3_600_000).toISOString() },
    });
    for (const j of [completed, failed]) expect((await call(gw, 'POST', `${jf.url}/v1/jobs`, j, asT1)).status).toBe(202);

    const claim = await call(runner.agent, 'POST', `${jf.url}/runner/v1/claim`, { max: 5, waitMs: 2_000 });
    expect(claim.body.jobs).toHaveLength(2);
    // the runner gets the clear payload over mTLS
    for (const env of claim.body.jobs) expect(env.payload.data).toEqual({ secret: MARKER });
    const envOf = (id: string) => claim.body.jobs.find((e: Env) => e.jobId === id) as Env;

    const c = envOf(completed.id);
    const progress = await call(runner.agent, 'POST', `${jf.url}/runner/v1/jobs/${c.jobId}/progress`, {
      leaseId: c.leaseId,
      fencingToken: c.fencingToken,
      pct: 50,
      message: `half of ${MARKER}`,
    });
    expect(progress.status).toBe(200);
    const data = { echoed: MARKER };
    const done = await call(runner.agent, 'POST', `${jf.url}/runner/v1/jobs/${c.jobId}/complete`, {
      leaseId: c.leaseId,
      fencingToken: c.fencingToken,
      data,
      signature: signed(runner.keyPem, c, 'completed', data),
    });
    expect(done.body).toMatchObject({ status: 'completed' });

    const f = envOf(failed.id);
    const error = {
      category: 'RUNTIME_ERROR',
      code: 'BAD_INPUT',
      message: `cannot use ${MARKER}`,
      retryable: false,
      details: [{ path: ['secret'], message: MARKER }],
    };
    const fail = await call(runner.agent, 'POST', `${jf.url}/runner/v1/jobs/${f.jobId}/fail`, {
      leaseId: f.leaseId,
      fencingToken: f.fencingToken,
      error,
      signature: signed(runner.keyPem, f, 'failed', error),
    });
    expect(fail.body).toMatchObject({ status: 'failed' });
    // two jobs left waiting, so Redis holds entries (ready and delayed) while it is scanned
    for (const j of [waiting, later]) expect((await call(gw, 'POST', `${jf.url}/v1/jobs`, j, asT1)).status).toBe(202);

    // The outbox delivers the result to TruthCore, which verifies the runner's signature over the
    // clear data (so JobForge decrypted it) and stores it encrypted again.
    for (let i = 0; i < 100 && (await jf.outbox!.pending()) > 0; i++) await sleep(50);
    expect(await jf.outbox!.pending()).toBe(0);
    const delivered = await db.query<{ delivered_at: Date | null }>('select delivered_at from result_outbox where job_id = $1', [
      completed.id,
    ]);
    expect(delivered.rows[0]?.delivered_at).toBeInstanceOf(Date);

    // ---- the authorised API answers clear values
    const got = await call(gw, 'GET', `${jf.url}/v1/jobs/${completed.id}`, undefined, asT1);
    expect(got.status).toBe(200);
    expect(got.body.request.payload).toMatchObject({ data: { secret: MARKER }, options: { note: MARKER } });
    expect(got.body.result).toMatchObject({ success: true, data: { echoed: MARKER } });
    const gotFailed = await call(gw, 'GET', `${jf.url}/v1/jobs/${failed.id}`, undefined, asT1);
    expect(gotFailed.body.error).toMatchObject({
      code: 'BAD_INPUT',
      message: `cannot use ${MARKER}`,
      details: [{ path: ['secret'], message: MARKER }],
    });
    const attempts = await call(gw, 'GET', `${jf.url}/v1/jobs/${failed.id}/attempts`, undefined, asT1);
    expect(attempts.body.attempts[0].error.message).toBe(`cannot use ${MARKER}`);
    const truth = await call(
      gwTc,
      'POST',
      `${tc.url}/v1/query`,
      { pattern: { subject: `job:${completed.id}`, predicate: 'result' } },
      asT1,
    );
    expect(truth.body.assertions[0].object.data).toEqual({ echoed: MARKER });
    const byObject = await call(gwTc, 'POST', `${tc.url}/v1/query`, { pattern: { object: truth.body.assertions[0].object } }, asT1);
    expect(byObject.body.assertions.map((a: { id: string }) => a.id)).toEqual([truth.body.assertions[0].id]);
    const provenance = await call(gwTc, 'GET', `${tc.url}/v1/jobs/${completed.id}/provenance`, undefined, asT1);
    expect(provenance.body.records[0]).toMatchObject({ signatureValid: true, result: { data: { echoed: MARKER } } });
    // The signed failure went to TruthCore too, its report (which the signature covers) stored
    // encrypted in the outbox and in TruthCore, and answered clear.
    const failedProvenance = await call(gwTc, 'GET', `${tc.url}/v1/jobs/${failed.id}/provenance`, undefined, asT1);
    expect(failedProvenance.body.records[0]).toMatchObject({
      outcome: 'failed',
      signatureValid: true,
      failure: error,
      result: { success: false, error: { message: `cannot use ${MARKER}` } },
    });

    // ---- PostgreSQL: a data-only dump of every table
    const { stdout: dump } = await execFileP('pg_dump', ['--data-only', '--no-owner', `--dbname=${tdb.adminUrl}`], {
      maxBuffer: 256 * 1024 * 1024,
    });
    expect(dump).toContain('cpenc:v1:');
    expect(dump).toContain(completed.id);
    expect(dump).not.toContain(MARKER);

    // ---- Redis: every key under the test prefix, and its value whatever its type
    const { stdout: scanned } = await execFileP('redis-cli', ['-u', redis.url, '--scan', '--pattern', redis.keys.pattern()]);
    const keys = scanned.split('\n').filter(Boolean);
    expect(keys.length).toBeGreaterThan(0);
    const values: string[] = [];
    for (const key of keys) {
      const type = await redis.client.type(key);
      if (type === 'string') values.push(String(await redis.client.get(key)));
      else if (type === 'zset') values.push(...(await redis.client.zrange(key, 0, -1, 'WITHSCORES')));
      else if (type === 'hash') values.push(JSON.stringify(await redis.client.hgetall(key)));
      else if (type === 'list') values.push(...(await redis.client.lrange(key, 0, -1)));
      else if (type === 'set') values.push(...(await redis.client.smembers(key)));
      else if (type === 'stream') values.push(JSON.stringify(await redis.client.xrange(key, '-', '+')));
      else values.push(`${key}:${type}`);
    }
    const redisText = [...keys, ...values].join('\n');
    expect(redisText).toContain(waiting.id); // the queue holds ids, and only ids
    expect(redisText).toContain(later.id);
    expect(redisText).not.toContain(MARKER);

    // ---- logs of both services
    const logText = logs.join('');
    expect(logText).toContain('request completed');
    expect(logText).not.toContain(MARKER);

    // ---- credentials: the join token and the runner's private key are in none of them
    for (const secret of secrets) {
      expect(dump).not.toContain(secret);
      expect(redisText).not.toContain(secret);
      expect(logText).not.toContain(secret);
    }
  });

  it('a ciphertext moved to another job fails closed: 500 without details, the reason in the log', async () => {
    const [a, b] = [job({ payload: { type: 'echo', data: { secret: MARKER } } }), job()];
    for (const j of [a, b]) expect((await call(gw, 'POST', `${jf.url}/v1/jobs`, j, asT1)).status).toBe(202);
    const stored = await db.query<{ data: string }>(`select request -> 'payload' ->> 'data' as data from jobs where id = $1`, [a.id]);
    expect(isEncrypted(stored.rows[0]!.data)).toBe(true);
    await db.query(
      `update jobs set request = jsonb_set(request, '{payload,data}', to_jsonb($1::text)) where tenant_id = 't1' and id = $2`,
      [stored.rows[0]!.data, b.id],
    );
    const res = await call(gw, 'GET', `${jf.url}/v1/jobs/${b.id}`, undefined, asT1);
    expect(res.status).toBe(500);
    expect(res.body.error).toMatchObject({ code: 'INTERNAL', details: [] });
    expect(JSON.stringify(res.body)).not.toContain('cpenc');
    expect(logs.join('')).toContain(`Cannot decrypt jobs.request.payload.data of row ${b.id}: the ciphertext does not authenticate`);
    expect(logs.join('')).not.toContain(MARKER);
  });
});
