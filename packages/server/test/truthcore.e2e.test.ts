// TruthCore over real mTLS on real PostgreSQL: assertions, queries, results with provenance,
// evidence and subscriptions — and the attacks each of them must refuse.
import { randomUUID } from 'node:crypto';
import type { Agent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, createLogger, requestJson, type JsonResponse } from '@controlplane/platform';
import {
  AuditLog,
  AssertionService,
  createPostgresDatabase,
  migrate,
  startTruthcore,
  TruthStore,
  type Database,
  type TruthcoreServer,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { createPkiFixture, TRUST_DOMAIN, type PkiFixture } from './support/pki-fixture.js';
import {
  delivery,
  errorEnvelope,
  evidencePacket,
  issueRunner,
  openSse,
  runnerAgentFor,
  type RunnerIdentity,
} from './support/truthcore-fixture.js';

const logger = createLogger({ service: 'test', level: 'silent' });

describe('truthcore over mTLS', () => {
  let pki: PkiFixture;
  let tdb: TestDatabase;
  let db: Database;
  let tc: TruthcoreServer;
  let gw: Agent;
  let jf: Agent;
  let runnerA: RunnerIdentity;
  let runnerB: RunnerIdentity;
  const cleanups: Array<() => void> = [];

  const call = (
    agent: Agent,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<JsonResponse<any>> => requestJson({ url: `${tc.url}${path}`, method, body, agent, headers, timeoutMs: 10_000 });
  const asTenant = (tenant: string) => ({ 'x-cp-tenant': tenant, 'x-cp-actor': `apikey:test-${tenant}` });
  const assertion = (over: Record<string, unknown> = {}) => ({
    id: randomUUID(),
    subject: 'device:1',
    predicate: 'temperature',
    object: { celsius: 21.5 },
    confidence: 0.9,
    timestamp: '2024-05-01T10:00:00.000Z',
    source: 'sensor-a',
    metadata: {},
    ...over,
  });
  const query = (tenant: string, body: unknown) => call(gw, 'POST', '/v1/query', body, asTenant(tenant));
  const provenanceRows = async (jobId: string) =>
    (await db.query<{ n: number }>('select count(*)::int as n from truth_job_provenance where job_id = $1', [jobId])).rows[0]?.n;
  const jobAssertions = async (jobId: string) =>
    (await db.query<{ n: number }>('select count(*)::int as n from truth_assertions where subject = $1', [`job:${jobId}`])).rows[0]?.n;

  beforeAll(async () => {
    pki = await createPkiFixture();
    tdb = await createTestDatabase();
    db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 10 });
    await migrate(db);
    await db.query(
      `insert into tenants (id, name) values ('t1', 'Tenant one'), ('t2', 'Tenant two'), ('tq', 'Query tenant') on conflict do nothing`,
    );
    tc = await startTruthcore({
      db,
      logger,
      tls: pki.material('truthcore'),
      trustDomain: TRUST_DOMAIN,
      caCertPem: pki.ca.certPem,
      listen: { host: '127.0.0.1', port: 0 },
      subscriptionPollMs: 200,
      audit: new AuditLog(db),
    });
    gw = pki.serviceAgent('gateway', 'truthcore');
    jf = pki.serviceAgent('jobforge', 'truthcore');
    runnerA = await issueRunner(pki.ca, TRUST_DOMAIN, 't1');
    runnerB = await issueRunner(pki.ca, TRUST_DOMAIN, 't1');
  });

  afterAll(async () => {
    for (const c of cleanups) c();
    await tc?.close();
    pki?.cleanup();
    await db?.close();
    await tdb?.drop();
  });

  describe('health', () => {
    it('answers without internal detail', async () => {
      const res = await call(gw, 'GET', '/health');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'healthy', service: 'truthcore', checks: [{ name: 'database', status: 'healthy' }] });
    });
  });

  describe('assertions', () => {
    it('stores an assertion (201) and answers it by id', async () => {
      const a = assertion({ expiresAt: '2999-01-01T00:00:00.000Z', metadata: { unit: 'C' } });
      const res = await call(gw, 'POST', '/v1/assert', a, asTenant('t1'));
      expect(res.status).toBe(201);
      expect(res.body).toEqual(a);
      const got = await call(gw, 'GET', `/v1/assertions/${a.id}`, undefined, asTenant('t1'));
      expect(got.status).toBe(200);
      expect(got.body).toEqual(a);
      const row = (await db.query<{ asserted_by: string }>('select asserted_by from truth_assertions where id = $1', [a.id])).rows[0];
      expect(row?.asserted_by).toBe('apikey:test-t1');
    });

    it('applies defaults and normalises the timestamp to UTC milliseconds', async () => {
      const a = {
        id: randomUUID(),
        subject: 's:defaults',
        predicate: 'p',
        object: null,
        timestamp: '2024-05-01T12:00:00.1234+02:00',
        source: 'x',
      };
      const res = await call(gw, 'POST', '/v1/assert', a, asTenant('t1'));
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ ...a, timestamp: '2024-05-01T10:00:00.123Z', confidence: 1, metadata: {} });
      // `object: null` in a pattern asks for a JSON null object; leaving object out asks nothing.
      const isNull = await query('t1', { pattern: { subject: 's:defaults', object: null } });
      expect(isNull.body.assertions.map((x: { id: string }) => x.id)).toEqual([a.id]);
      expect((await query('t1', { pattern: { subject: 's:defaults', object: 'null' } })).body.totalCount).toBe(0);
    });

    it('is idempotent on id: same content answers the stored one, different content is a 409', async () => {
      const a = assertion({ object: { b: [1, 2], a: 'x' } });
      expect((await call(gw, 'POST', '/v1/assert', a, asTenant('t1'))).status).toBe(201);
      // Same content, keys in another order and the timestamp in another offset: still the same assertion.
      const again = await call(
        gw,
        'POST',
        '/v1/assert',
        { ...a, object: { a: 'x', b: [1, 2] }, timestamp: '2024-05-01T12:00:00+02:00' },
        asTenant('t1'),
      );
      expect(again.status).toBe(200);
      expect(again.body).toEqual(a);
      const changed = await call(gw, 'POST', '/v1/assert', { ...a, object: { a: 'y', b: [1, 2] } }, asTenant('t1'));
      expect(changed.status).toBe(409);
      expect(changed.body.error).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', category: 'RESOURCE_CONFLICT' });
      const stored = await call(gw, 'GET', `/v1/assertions/${a.id}`, undefined, asTenant('t1'));
      expect(stored.body.object).toEqual({ a: 'x', b: [1, 2] });
    });

    it('refuses an assertion without subject and predicate with 400 VALIDATION_ERROR and the field paths', async () => {
      const id = randomUUID();
      const { subject: _s, predicate: _p, ...rest } = assertion({ id });
      const res = await call(gw, 'POST', '/v1/assert', rest, asTenant('t1'));
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', category: 'VALIDATION_ERROR' });
      const paths = res.body.error.details.map((d: { path: string[] }) => d.path.join('.')).sort();
      expect(paths).toEqual(['predicate', 'subject']);
      const empty = await call(gw, 'POST', '/v1/assert', { ...assertion({ id }), subject: '' }, asTenant('t1'));
      expect(empty.status).toBe(400);
      expect(empty.body.error.details.map((d: { path: string[] }) => d.path)).toEqual([['subject']]);
      expect((await db.query('select 1 from truth_assertions where id = $1', [id])).rowCount).toBe(0);
      const bad = await call(gw, 'POST', '/v1/assert', assertion({ confidence: 1.5, timestamp: 'yesterday' }), asTenant('t1'));
      expect(bad.body.error.details.map((d: { path: string[] }) => d.path.join('.')).sort()).toEqual(['confidence', 'timestamp']);
    });

    it('answers a NUL character in a value as a validation error, not an internal one', async () => {
      const res = await call(gw, 'POST', '/v1/assert', assertion({ object: { text: 'a\u0000b' } }), asTenant('t1'));
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    });

    it('keeps tenants apart: another tenant can neither read nor overwrite an assertion', async () => {
      const a = assertion({ subject: 'secret:1' });
      await call(gw, 'POST', '/v1/assert', a, asTenant('t1'));
      const cross = await call(gw, 'GET', `/v1/assertions/${a.id}`, undefined, asTenant('t2'));
      expect(cross.status).toBe(404);
      expect(cross.body.error.code).toBe('RESOURCE_NOT_FOUND');
      expect((await query('t2', { pattern: { subject: 'secret:1' } })).body).toMatchObject({ assertions: [], totalCount: 0 });
      // The same id in another tenant is that tenant's own assertion, not a conflict or an overwrite.
      const theirs = await call(gw, 'POST', '/v1/assert', { ...a, object: 'theirs' }, asTenant('t2'));
      expect(theirs.status).toBe(201);
      expect((await call(gw, 'GET', `/v1/assertions/${a.id}`, undefined, asTenant('t1'))).body.object).toEqual(a.object);
      expect((await call(gw, 'GET', `/v1/assertions/${a.id}`, undefined, asTenant('t2'))).body.object).toBe('theirs');
    });

    it('reserves job: subjects for verified results', async () => {
      const res = await call(
        gw,
        'POST',
        '/v1/assert',
        assertion({ subject: `job:${randomUUID()}`, predicate: 'status', object: 'completed' }),
        asTenant('t1'),
      );
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
    });

    it('accepts forwarded tenant headers only from the gateway', async () => {
      const a = assertion();
      const fromJobforge = await call(jf, 'POST', '/v1/assert', a, asTenant('t1'));
      expect(fromJobforge.status).toBe(403);
      const r = runnerAgentFor(pki.ca.certPem, runnerA, TRUST_DOMAIN);
      cleanups.push(r.cleanup);
      const fromRunner = await call(r.agent, 'GET', `/v1/assertions/${a.id}`, undefined, asTenant('t1'));
      expect(fromRunner.status).toBe(403);
      expect((await call(gw, 'POST', '/v1/assert', a, { 'x-cp-tenant': 'T1;drop', 'x-cp-actor': 'x' })).status).toBe(401);
      expect((await db.query('select 1 from truth_assertions where id = $1', [a.id])).rowCount).toBe(0);
    });
  });

  describe('queries', () => {
    // tenant tq: 12 temperature readings of device:q (one expired), plus decoys.
    const ids: string[] = [];
    const at = (i: number) => new Date(Date.UTC(2024, 0, 1, 0, i)).toISOString();

    beforeAll(async () => {
      for (let i = 0; i < 12; i++) {
        const a = assertion({
          subject: 'device:q',
          predicate: 'temperature',
          object: { celsius: i % 3 },
          confidence: i / 11,
          source: i % 2 === 0 ? 'even' : 'odd',
          timestamp: at(i),
        });
        ids.push(a.id);
        expect((await call(gw, 'POST', '/v1/assert', a, asTenant('tq'))).status).toBe(201);
      }
      await call(
        gw,
        'POST',
        '/v1/assert',
        assertion({ subject: 'device:q', predicate: 'temperature', timestamp: at(30), expiresAt: '2000-01-01T00:00:00Z' }),
        asTenant('tq'),
      );
      await call(
        gw,
        'POST',
        '/v1/assert',
        assertion({ subject: 'device:q', predicate: 'humidity', timestamp: at(31), object: { celsius: 0 } }),
        asTenant('tq'),
      );
      await call(
        gw,
        'POST',
        '/v1/assert',
        assertion({ subject: 'device:other', predicate: 'temperature', timestamp: at(32) }),
        asTenant('tq'),
      );
    });

    it('matches subject + predicate, newest first, without expired assertions', async () => {
      const res = await query('tq', { pattern: { subject: 'device:q', predicate: 'temperature' } });
      expect(res.status).toBe(200);
      expect(res.body.assertions.map((a: { id: string }) => a.id)).toEqual([...ids].reverse());
      expect(res.body).toMatchObject({ totalCount: 12, totalCountExact: true, hasMore: false, nextCursor: null });
      expect(typeof res.body.queryTimeMs).toBe('number');
    });

    it('does not return an expired assertion by id either', async () => {
      const a = assertion({ expiresAt: new Date(Date.now() - 1000).toISOString() });
      expect((await call(gw, 'POST', '/v1/assert', a, asTenant('tq'))).status).toBe(201);
      expect((await call(gw, 'GET', `/v1/assertions/${a.id}`, undefined, asTenant('tq'))).status).toBe(404);
    });

    it('matches an object by canonical JSON equality, whatever the key order', async () => {
      const res = await query('tq', { pattern: { predicate: 'temperature', object: { celsius: 1 } } });
      expect(res.body.assertions.map((a: { id: string }) => a.id).sort()).toEqual([1, 4, 7, 10].map((i) => ids[i]).sort());
      const nested = assertion({ subject: 'doc:1', object: { b: { y: 2, x: 1 }, a: [3, { q: true }] } });
      await call(gw, 'POST', '/v1/assert', nested, asTenant('tq'));
      const byObject = await query('tq', { pattern: { object: { a: [3, { q: true }], b: { x: 1, y: 2 } } } });
      expect(byObject.body.assertions.map((a: { id: string }) => a.id)).toEqual([nested.id]);
      expect((await query('tq', { pattern: { object: { a: [{ q: true }, 3], b: { x: 1, y: 2 } } } })).body.totalCount).toBe(0);
    });

    it('filters on confidence, sources and time', async () => {
      const base = { pattern: { subject: 'device:q', predicate: 'temperature' } };
      const conf = await query('tq', { ...base, filters: { minConfidence: 0.5 } });
      expect(conf.body.assertions.map((a: { id: string }) => a.id).sort()).toEqual(ids.slice(6).sort());
      const odd = await query('tq', { ...base, filters: { minConfidence: 0, sources: ['odd'] } });
      expect(odd.body.totalCount).toBe(6);
      expect(odd.body.assertions.every((a: { source: string }) => a.source === 'odd')).toBe(true);
      const window = await query('tq', { ...base, filters: { minConfidence: 0, after: at(2), before: at(6) } });
      expect(window.body.assertions.map((a: { id: string }) => a.id)).toEqual([ids[5], ids[4], ids[3]]);
    });

    it('pages with limit/offset and reports totalCount and hasMore', async () => {
      const base = { pattern: { subject: 'device:q', predicate: 'temperature' } };
      const p1 = await query('tq', { ...base, limit: 5 });
      expect(p1.body).toMatchObject({ totalCount: 12, hasMore: true });
      expect(p1.body.assertions.map((a: { id: string }) => a.id)).toEqual([...ids].reverse().slice(0, 5));
      const p3 = await query('tq', { ...base, limit: 5, offset: 10 });
      expect(p3.body).toMatchObject({ totalCount: 12, hasMore: false });
      expect(p3.body.assertions.map((a: { id: string }) => a.id)).toEqual([ids[1], ids[0]]);
      const beyond = await query('tq', { ...base, limit: 5, offset: 50 });
      expect(beyond.body).toMatchObject({ assertions: [], totalCount: 12, hasMore: false });
    });

    it('pages with an opaque cursor: every match once, in order', async () => {
      const base = { pattern: { subject: 'device:q', predicate: 'temperature' }, limit: 5 };
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 5; page++) {
        const res = await query('tq', { ...base, ...(cursor ? { cursor } : {}) });
        expect(res.status).toBe(200);
        expect(res.body.totalCount).toBe(12);
        seen.push(...res.body.assertions.map((a: { id: string }) => a.id));
        cursor = res.body.nextCursor ?? undefined;
        expect(res.body.hasMore).toBe(cursor !== undefined);
        if (!cursor) break;
      }
      expect(seen).toEqual([...ids].reverse());
      const mixed = await query('tq', { ...base, cursor: 'abc', offset: 3 });
      expect(mixed.status).toBe(400);
      const forged = await query('tq', { ...base, cursor: Buffer.from('["x","y"]').toString('base64url') });
      expect(forged.status).toBe(400);
      expect(forged.body.error.details[0].path).toEqual(['cursor']);
    });

    it('caps the count: exact up to the cap, then a flagged lower bound', async () => {
      const small = new AssertionService({ db, store: new TruthStore(), countCap: 3 });
      const capped = await small.query('tq', { pattern: { subject: 'device:q', predicate: 'temperature' }, limit: 2 });
      expect(capped).toMatchObject({ totalCount: 3, totalCountExact: false, hasMore: true });
      const exact = await small.query('tq', { pattern: { subject: 'device:q', predicate: 'humidity' }, limit: 2 });
      expect(exact).toMatchObject({ totalCount: 1, totalCountExact: true, hasMore: false });
    });

    it('refuses a malformed query with field paths', async () => {
      const res = await query('tq', { pattern: { subject: '' }, limit: 0, filters: { minConfidence: 2 } });
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((d: { path: string[] }) => d.path.join('.')).sort()).toEqual([
        'filters.minConfidence',
        'limit',
        'pattern.subject',
      ]);
    });
  });

  describe('results with provenance', () => {
    const post = (agent: Agent, body: unknown) => call(agent, 'POST', '/v1/results', body);

    it('records a signed result once, as assertions with provenance that re-verifies', async () => {
      const d = delivery(runnerA, { tenantId: 't1', data: { answer: 42 } });
      const res = await post(jf, d);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ jobId: d.jobId, attempt: 1, duplicate: false });
      expect(res.body.assertions).toHaveLength(3);

      const facts = await query('t1', { pattern: { subject: `job:${d.jobId}` } });
      const byPredicate = Object.fromEntries(
        facts.body.assertions.map((a: { predicate: string; object: unknown }) => [a.predicate, a.object]),
      );
      expect(byPredicate).toEqual({ status: 'completed', result: d.result, runner: runnerA.id });
      expect(facts.body.assertions[0].source).toBe(`spiffe://${TRUST_DOMAIN}/runner/${runnerA.id}`);

      const prov = await call(gw, 'GET', `/v1/jobs/${d.jobId}/provenance`, undefined, asTenant('t1'));
      expect(prov.status).toBe(200);
      expect(prov.body.records).toHaveLength(1);
      const rec = prov.body.records[0];
      expect(rec).toMatchObject({
        attempt: 1,
        outcome: 'completed',
        submittedBy: 'apikey:submitter-1',
        recordedBy: 'jobforge',
        requestDigest: d.requestDigest,
        signature: d.signature,
        signatureValid: true,
        evidence: null,
        runner: { id: runnerA.id, spiffeId: `spiffe://${TRUST_DOMAIN}/runner/${runnerA.id}`, certificate: { trusted: true } },
      });
      expect(rec.runner.certificate.pem.trim()).toBe(runnerA.certPem.trim());
      expect(rec.runner.certificate.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);

      // The outbox delivers again: acknowledged, nothing recorded twice.
      const again = await post(jf, d);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ duplicate: true, assertions: [] });
      expect(await provenanceRows(d.jobId)).toBe(1);
      expect(await jobAssertions(d.jobId)).toBe(3);

      // Another tenant sees no provenance of this job.
      expect((await call(gw, 'GET', `/v1/jobs/${d.jobId}/provenance`, undefined, asTenant('t2'))).status).toBe(404);
    });

    it('records a failed outcome signed over its error', async () => {
      const d = delivery(runnerA, { tenantId: 't1', outcome: 'failed', error: errorEnvelope('boom') });
      expect((await post(jf, d)).status).toBe(201);
      const status = await query('t1', { pattern: { subject: `job:${d.jobId}`, predicate: 'status' } });
      expect(status.body.assertions.map((a: { object: unknown }) => a.object)).toEqual(['failed']);
      const prov = await call(gw, 'GET', `/v1/jobs/${d.jobId}/provenance`, undefined, asTenant('t1'));
      expect(prov.body.records[0]).toMatchObject({ outcome: 'failed', signatureValid: true });
    });

    it("records a runner's failure report with the signature over the report as it was sent", async () => {
      const failure = { category: 'RUNTIME_ERROR', code: 'HANDLER_FAILED', message: 'boom: disk full', retryable: true };
      const d = delivery(runnerA, { tenantId: 't1', outcome: 'failed', error: errorEnvelope('boom: disk full'), failure });
      expect((await post(jf, d)).status).toBe(201);
      const prov = await call(gw, 'GET', `/v1/jobs/${d.jobId}/provenance`, undefined, asTenant('t1'));
      expect(prov.body.records[0]).toMatchObject({
        outcome: 'failed',
        signatureValid: true,
        failure,
        result: { success: false, error: { message: 'boom: disk full' } },
      });
    });

    it('refuses a failure report that the recorded error contradicts, or on a completion', async () => {
      const failure = { category: 'RUNTIME_ERROR', code: 'HANDLER_FAILED', message: 'boom', retryable: true };
      const d = delivery(runnerA, { tenantId: 't1', outcome: 'failed', error: errorEnvelope('boom'), failure });
      for (const error of [{ category: 'TIMEOUT' }, { retryable: false }, { code: 'OTHER' }, { message: 'something else' }]) {
        const res = await post(jf, { ...d, result: { ...d.result, error: { ...d.result.error, ...error } } });
        expect([res.status, res.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
      }
      const completion = delivery(runnerA, { tenantId: 't1', data: 'x' });
      expect((await post(jf, { ...completion, failure })).status).toBe(400);
      expect((await post(jf, d)).status).toBe(201);
    });

    it('refuses a second, different result for the same attempt', async () => {
      const d = delivery(runnerA, { tenantId: 't1', data: 'first' });
      expect((await post(jf, d)).status).toBe(201);
      const other = delivery(runnerA, { tenantId: 't1', jobId: d.jobId, data: 'second' });
      const res = await post(jf, other);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('IDEMPOTENCY_CONFLICT');
      const stored = await query('t1', { pattern: { subject: `job:${d.jobId}`, predicate: 'result' } });
      expect(stored.body.assertions.map((a: { object: { data: unknown } }) => a.object.data)).toEqual(['first']);
    });

    it('accepts results only from the jobforge identity: gateway and runners get 403', async () => {
      const d = delivery(runnerA, { tenantId: 't1', data: 1 });
      const viaGateway = await call(gw, 'POST', '/v1/results', d, asTenant('t1'));
      expect(viaGateway.status).toBe(403);
      expect(viaGateway.body.error.code).toBe('FORBIDDEN');
      const r = runnerAgentFor(pki.ca.certPem, runnerA, TRUST_DOMAIN);
      cleanups.push(r.cleanup);
      const fromRunner = await post(r.agent, d);
      expect(fromRunner.status).toBe(403);
      expect(fromRunner.body.error.code).toBe('FORBIDDEN');
      expect(await provenanceRows(d.jobId)).toBe(0);
      expect(await jobAssertions(d.jobId)).toBe(0);
    });

    it('records a batch item by item: each verified, recorded or refused on its own, and only from jobforge', async () => {
      const good = delivery(runnerA, { tenantId: 't1', data: { n: 1 } });
      const tampered = delivery(runnerA, { tenantId: 't1', data: { n: 2 } });
      const second = delivery(runnerA, { tenantId: 't1', data: { n: 3 } });
      const batch = {
        results: [
          { correlationId: 'batch-item-one', delivery: good },
          { delivery: { ...tampered, result: { ...tampered.result, data: { n: 'tampered' } } } },
          { delivery: second },
        ],
      };
      const res = await call(jf, 'POST', '/v1/results/batch', batch);
      expect(res.status).toBe(200);
      expect(res.body.results).toEqual([
        { ok: true, duplicate: false },
        { ok: false, code: 'ENVELOPE_SIGNATURE_INVALID', retryable: false },
        { ok: true, duplicate: false },
      ]);
      expect(await provenanceRows(good.jobId)).toBe(1);
      expect(await provenanceRows(tampered.jobId)).toBe(0);
      expect(await provenanceRows(second.jobId)).toBe(1);
      // Sent again (the outbox retries a batch whose answer it lost): duplicates, nothing twice.
      const again = await call(jf, 'POST', '/v1/results/batch', { results: [{ delivery: good }] });
      expect(again.body.results).toEqual([{ ok: true, duplicate: true }]);
      expect(await jobAssertions(good.jobId)).toBe(3);
      // Each item is audited on its own, success and refusal alike.
      const audited = await db.query<{ outcome: string; resource_id: string }>(
        `select outcome, resource_id from audit_events where action = 'job_result.recorded' and resource_id = any($1::text[])`,
        [[good.jobId, tampered.jobId, second.jobId]],
      );
      expect(audited.rows.map((r) => `${r.resource_id === tampered.jobId ? 'tampered' : 'ok'}:${r.outcome}`).sort()).toEqual([
        'ok:success',
        'ok:success',
        'ok:success',
        'tampered:failure',
      ]);
      // The gateway may not write results, not even by the batch.
      const viaGateway = await call(
        gw,
        'POST',
        '/v1/results/batch',
        { results: [{ delivery: delivery(runnerA, { tenantId: 't1', data: 1 }) }] },
        asTenant('t1'),
      );
      expect([viaGateway.status, viaGateway.body.error.code]).toEqual([403, 'FORBIDDEN']);
    });

    describe('refuses results whose runner signature does not hold, storing nothing', () => {
      const refused = async (body: ReturnType<typeof delivery>) => {
        const res = await post(jf, body);
        expect(res.status).toBe(403);
        expect(res.body.error).toMatchObject({ code: 'ENVELOPE_SIGNATURE_INVALID', category: 'AUTHORIZATION_ERROR' });
        expect(await provenanceRows(body.jobId)).toBe(0);
        expect(await jobAssertions(body.jobId)).toBe(0);
      };

      it('a failure report changed after it was signed', async () => {
        const failure = { category: 'RUNTIME_ERROR', code: 'HANDLER_FAILED', message: 'boom', retryable: true };
        const d = delivery(runnerA, { tenantId: 't1', outcome: 'failed', error: errorEnvelope('boom'), failure });
        const envelope = d.result.error!;
        await refused({
          ...d,
          failure: { ...failure, retryable: false },
          result: { ...d.result, error: { ...envelope, retryable: false } },
        });
        await refused({ ...d, failure: { ...failure, details: [{ message: 'added' }] } });
      });

      it('tampered data', async () => {
        const d = delivery(runnerA, { tenantId: 't1', data: { amount: 10 } });
        await refused({ ...d, result: { ...d.result, data: { amount: 10_000 } } });
      });

      it('tampered signed fields: attempt, fencing token, outcome, tenant', async () => {
        const d = delivery(runnerA, { tenantId: 't1', data: 'x' });
        await refused({ ...d, attempt: 2 });
        await refused({ ...d, fencingToken: '999999' });
        await refused({ ...d, outcome: 'failed', result: { success: false, error: errorEnvelope(), metadata: d.result.metadata } } as any);
        // A tenant-t1 runner's valid signature presented as a result of tenant t2's job.
        const t2 = delivery(runnerA, { tenantId: 't2', data: 'x' });
        await refused(t2);
      });

      it("the wrong runner's certificate", async () => {
        const d = delivery(runnerA, { tenantId: 't1', data: 'x' });
        await refused({ ...d, runner: { id: runnerA.id, certificatePem: runnerB.certPem } });
        await refused({ ...d, runner: { id: runnerB.id, certificatePem: runnerA.certPem } });
      });

      it('a signature made by another runner', async () => {
        await refused(delivery(runnerA, { tenantId: 't1', data: 'x' }, runnerB));
      });

      it('a certificate from another CA naming the same runner', async () => {
        const rogueCa = await createCertificateAuthority({ trustDomain: TRUST_DOMAIN });
        const impostor = await issueRunner(rogueCa, TRUST_DOMAIN, 't1', { id: runnerA.id });
        await refused(delivery(impostor, { tenantId: 't1', data: 'x' }));
      });

      it('a service certificate instead of a runner certificate, and no certificate at all', async () => {
        const d = delivery(runnerA, { tenantId: 't1', data: 'x' });
        await refused({ ...d, runner: { id: runnerA.id, certificatePem: pki.material('jobforge').cert } });
        await refused({ ...d, runner: { id: runnerA.id, certificatePem: 'not a certificate' } });
        await refused({ ...d, runner: { id: runnerA.id, certificatePem: runnerA.certPem + runnerB.certPem } });
      });

      it('a certificate that was not valid when the outcome was recorded', async () => {
        const expired = await issueRunner(pki.ca, TRUST_DOMAIN, 't1', {
          notBefore: new Date(Date.now() - 7_200_000),
          notAfter: new Date(Date.now() - 3_600_000),
        });
        await refused(delivery(expired, { tenantId: 't1', data: 'x' }));
      });

      it('a garbled signature', async () => {
        const d = delivery(runnerA, { tenantId: 't1', data: 'x' });
        await refused({ ...d, signature: d.signature.slice(0, -4) + 'AAAA' });
      });
    });

    it('stores an evidence packet whose hash checks, and refuses one whose hash does not', async () => {
      const packet = evidencePacket(runnerA.id, [
        { key: 'exit', value: 0, source: 'sandbox', redacted: false },
        { key: 'stdout', value: { lines: 3 }, source: 'sandbox', redacted: true },
      ]);
      const good = delivery(runnerA, { tenantId: 't1', data: 'ok', evidence: packet });
      const res = await post(jf, good);
      expect(res.status).toBe(201);
      expect(res.body.assertions).toHaveLength(4);
      const prov = await call(gw, 'GET', `/v1/jobs/${good.jobId}/provenance`, undefined, asTenant('t1'));
      expect(prov.body.records[0].evidence).toMatchObject({
        hash: packet.hash,
        hashValid: true,
        packet: { id: packet.id, items: packet.items },
      });
      const ev = await query('t1', { pattern: { subject: `job:${good.jobId}`, predicate: 'evidence' } });
      expect(ev.body.assertions[0].object).toEqual({ id: packet.id, hash: packet.hash });

      const tampered = delivery(runnerA, {
        tenantId: 't1',
        data: 'ok',
        evidence: { ...packet, items: [{ key: 'exit', value: 1, source: 'sandbox', redacted: false }] },
      });
      const bad = await post(jf, tampered);
      expect(bad.status).toBe(400);
      expect(bad.body.error.details).toEqual([expect.objectContaining({ path: ['evidence', 'hash'] })]);
      expect(await provenanceRows(tampered.jobId)).toBe(0);
      expect(await jobAssertions(tampered.jobId)).toBe(0);

      const foreign = delivery(runnerA, { tenantId: 't1', data: 'ok', evidence: evidencePacket(runnerB.id) });
      const wrongRunner = await post(jf, foreign);
      expect(wrongRunner.status).toBe(400);
      expect(wrongRunner.body.error.details[0].path).toEqual(['evidence', 'runner']);
    });

    it('shows signatureValid: false when the stored result is altered afterwards', async () => {
      const d = delivery(runnerA, { tenantId: 't1', data: { paid: 5 } });
      expect((await post(jf, d)).status).toBe(201);
      await db.query(`update truth_job_provenance set result = jsonb_set(result, '{data,paid}', '500') where job_id = $1`, [d.jobId]);
      const prov = await call(gw, 'GET', `/v1/jobs/${d.jobId}/provenance`, undefined, asTenant('t1'));
      expect(prov.body.records[0].signatureValid).toBe(false);
      await db.query(`update truth_job_provenance set result_digest = $2 where job_id = $1`, [d.jobId, 'f'.repeat(64)]);
      expect((await call(gw, 'GET', `/v1/jobs/${d.jobId}/provenance`, undefined, asTenant('t1'))).body.records[0].signatureValid).toBe(
        false,
      );
    });

    it('refuses a malformed delivery with field paths', async () => {
      const d = delivery(runnerA, { tenantId: 't1', data: 'x' });
      const res = await post(jf, { ...d, jobId: 'nope', requestDigest: 'short', runner: { id: '../etc' } });
      expect(res.status).toBe(400);
      expect(res.body.error.details.map((x: { path: string[] }) => x.path.join('.')).sort()).toEqual([
        'jobId',
        'requestDigest',
        'runner.certificatePem',
        'runner.id',
      ]);
    });
  });

  describe('subscriptions', () => {
    it('streams new matching assertions and resumes after Last-Event-ID', async () => {
      const subject = `sensor:${randomUUID()}`;
      const first = await openSse(`${tc.url}/v1/subscribe?subject=${encodeURIComponent(subject)}&predicate=reading`, gw, asTenant('t1'));
      expect(first.status).toBe(200);
      const a1 = assertion({ subject, predicate: 'reading', object: 1 });
      const decoy = assertion({ subject, predicate: 'other', object: 'no' });
      const elsewhere = assertion({ subject, predicate: 'reading', object: 'other tenant' });
      const a2 = assertion({ subject, predicate: 'reading', object: 2 });
      await call(gw, 'POST', '/v1/assert', a1, asTenant('t1'));
      await call(gw, 'POST', '/v1/assert', decoy, asTenant('t1'));
      await call(gw, 'POST', '/v1/assert', elsewhere, asTenant('t2'));
      await call(gw, 'POST', '/v1/assert', a2, asTenant('t1'));
      const got = await first.waitFor(2);
      expect(got.map((e) => JSON.parse(e.data).id)).toEqual([a1.id, a2.id]);
      expect(got.every((e) => e.event === 'assertion')).toBe(true);
      expect(BigInt(got[1]!.id!)).toBeGreaterThan(BigInt(got[0]!.id!));
      first.close();

      // While disconnected: one more matching assertion.
      const a3 = assertion({ subject, predicate: 'reading', object: 3 });
      await call(gw, 'POST', '/v1/assert', a3, asTenant('t1'));
      const resumed = await openSse(`${tc.url}/v1/subscribe?subject=${encodeURIComponent(subject)}&predicate=reading`, gw, {
        ...asTenant('t1'),
        'last-event-id': got[0]!.id!,
      });
      const replay = await resumed.waitFor(2);
      expect(replay.map((e) => JSON.parse(e.data).id)).toEqual([a2.id, a3.id]);
      const a4 = assertion({ subject, predicate: 'reading', object: 4 });
      await call(gw, 'POST', '/v1/assert', a4, asTenant('t1'));
      expect(JSON.parse((await resumed.waitFor(3))[2]!.data)).toEqual(a4);
      // Nothing else arrives: no duplicates, no decoys.
      await new Promise((r) => setTimeout(r, 400));
      expect(resumed.events).toHaveLength(3);
      resumed.close();
    });

    it('delivers every one of many concurrent appends exactly once, in event-id order', async () => {
      const subject = `burst:${randomUUID()}`;
      const sub = await openSse(`${tc.url}/v1/subscribe?subject=${encodeURIComponent(subject)}`, gw, asTenant('t1'));
      const burst = Array.from({ length: 40 }, (_, i) => assertion({ subject, predicate: `p${i % 3}`, object: i }));
      const posted = await Promise.all(burst.map((a) => call(gw, 'POST', '/v1/assert', a, asTenant('t1'))));
      expect(posted.every((r) => r.status === 201)).toBe(true);
      const events = await sub.waitFor(40);
      expect(new Set(events.map((e) => JSON.parse(e.data).id))).toEqual(new Set(burst.map((a) => a.id)));
      const seqs = events.map((e) => BigInt(e.id!));
      expect(seqs.every((v, i) => i === 0 || v > seqs[i - 1]!)).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(sub.events).toHaveLength(40);
      sub.close();
    });

    it('delivers recorded job results to a subscriber of the job', async () => {
      const d = delivery(runnerA, { tenantId: 't1', data: 'streamed' });
      const sub = await openSse(
        `${tc.url}/v1/subscribe?subject=${encodeURIComponent(`job:${d.jobId}`)}&predicate=status`,
        gw,
        asTenant('t1'),
      );
      expect((await call(jf, 'POST', '/v1/results', d)).status).toBe(201);
      const [ev] = await sub.waitFor(1);
      expect(JSON.parse(ev!.data)).toMatchObject({ subject: `job:${d.jobId}`, predicate: 'status', object: 'completed' });
      sub.close();
    });

    it('refuses a subscription from anything but the gateway', async () => {
      const res = await openSse(`${tc.url}/v1/subscribe?subject=x`, jf, asTenant('t1'));
      expect(res.status).toBe(403);
      res.close();
    });
  });
});
