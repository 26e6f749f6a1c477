// Field-level encryption wired into the stores on real PostgreSQL: what reaches the tables is
// ciphertext, what callers get back is clear, and a ciphertext moved to another row, field or
// tenant is refused with a CP_CRYPTO_DECRYPT_* error that says where it was found.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InternalError, canonicalHash, isInternalError } from '@controlplane/contracts';
import { BLIND_INDEX_KEY_ID, createCertificateAuthority, createLogger, generateKeyringFile, isEncrypted } from '@controlplane/platform';
import {
  AssertionService,
  createPostgresDatabase,
  JobResultService,
  JobLifecycle,
  JobStore,
  JobTypeRegistry,
  migrate,
  objectHash,
  openFieldEncryption,
  parseTrustAnchors,
  PostgresQueue,
  TruthStore,
  type Database,
  type FieldEncryption,
  type RunnerIdentity,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { expectCode, job, seedTenants } from './support/queue-conformance.js';
import { delivery, evidencePacket, issueRunner } from './support/truthcore-fixture.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const TRUST_DOMAIN = 'enc.controlplane.local';

describe('field encryption in the stores (PostgreSQL)', () => {
  let tdb: TestDatabase;
  let db: Database;
  let keyDb: Database;
  let dir: string;
  let enc: FieldEncryption;
  let store: JobStore;
  let jobs: JobLifecycle;
  const marker = () => `MARK-${randomBytes(12).toString('hex')}`;
  const r1: RunnerIdentity = { id: 'runner-1', tenantId: 't1', pool: 'default', jobTypes: ['echo'] };

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 6, applicationName: 'enc-app' });
    keyDb = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 2, applicationName: 'enc-keys' });
    await migrate(db);
    await seedTenants(db);
    dir = mkdtempSync(join(tmpdir(), 'cp-enc-'));
    await generateKeyringFile(join(dir, 'keyring.json'));
    enc = await openFieldEncryption({ keyringFile: join(dir, 'keyring.json'), keyDb });
    store = new JobStore(db, { cipher: enc.cipher });
    jobs = new JobLifecycle({ db, store, queue: new PostgresQueue(db, store), jobTypes: new JobTypeRegistry(), logger, leaseMs: 5_000 });
  });

  afterAll(async () => {
    await db?.close();
    await keyDb?.close();
    await tdb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const raw = async (tenantId: string, id: string) =>
    (
      await db.query<{ request: any; result: any; error: any }>(
        'select request, result, error from jobs where tenant_id = $1 and id = $2',
        [tenantId, id],
      )
    ).rows[0]!;

  describe('PostgresDataKeyStore', () => {
    it('stores, replaces, names the current key and refuses unknown or reserved ones', async () => {
      const s = enc.store;
      const rec = { tenantId: 'ks', id: 'k1', kekId: 'kek-a', wrapped: randomBytes(60) };
      await s.put(rec);
      expect(await s.get('ks', 'k1')).toEqual(rec);
      expect(await s.get('other', 'k1')).toBeUndefined();
      expect(await s.current('ks')).toBeUndefined();
      await s.setCurrent('ks', 'k1');
      expect(await s.current('ks')).toEqual(rec);
      const rewrapped = { ...rec, kekId: 'kek-b', wrapped: randomBytes(60) };
      await s.put(rewrapped);
      expect(await s.current('ks')).toEqual(rewrapped);
      await expect(s.setCurrent('ks', 'nope')).rejects.toMatchObject({ code: 'CP_KEYRING_DATA_KEY_NOT_FOUND' });
      await expect(s.setCurrent('ks', BLIND_INDEX_KEY_ID)).rejects.toMatchObject({ code: 'CP_KEYRING_DATA_KEY_IS_INDEX_ROOT' });
      await expect(s.put({ ...rec, id: 'bad:id' })).rejects.toMatchObject({ code: 'CP_KEYRING_DATA_KEY_ID_INVALID' });
    });

    it('putIfAbsent: concurrent writers of one well-known record all end up with the same one', async () => {
      const candidates = Array.from({ length: 8 }, () => ({
        tenantId: 'race',
        id: BLIND_INDEX_KEY_ID,
        kekId: 'kek-a',
        wrapped: randomBytes(60),
      }));
      const got = await Promise.all(candidates.map((c) => enc.store.putIfAbsent(c)));
      expect(new Set(got.map((g) => g.wrapped.toString('hex'))).size).toBe(1);
      expect(candidates.map((c) => c.wrapped.toString('hex'))).toContain(got[0]!.wrapped.toString('hex'));
    });
  });

  describe('JobStore', () => {
    it('stores payload and result as ciphertext, answers them clear, and keeps idempotency working', async () => {
      const [inData, inOpt, outData] = [marker(), marker(), marker()];
      const req = job({ payload: { type: 'echo', data: { secret: inData }, options: { hint: inOpt } } });
      const submitted = await jobs.submission.submit('t1', 'key:1', req);
      expect(submitted.request.payload).toMatchObject({ data: { secret: inData }, options: { hint: inOpt } });

      const stored = await raw('t1', req.id);
      expect(isEncrypted(stored.request.payload.data)).toBe(true);
      expect(isEncrypted(stored.request.payload.options)).toBe(true);
      expect(JSON.stringify(stored)).not.toContain(inData);
      // everything else stays clear: routing, metadata, the type
      expect(stored.request).toMatchObject({ id: req.id, type: 'echo', payload: { type: 'echo' }, metadata: { source: 'conformance' } });

      // the digest is over the clear request: the same request again is idempotent, a different one conflicts
      expect((await jobs.submission.submit('t1', 'key:1', req)).updatedAt).toBe(submitted.updatedAt);
      await expectCode(
        jobs.submission.submit('t1', 'key:1', { ...req, payload: { type: 'echo', data: { secret: 'other' } } }),
        'IDEMPOTENCY_CONFLICT',
      );

      const [env] = await jobs.runners.claim(r1, { max: 1, waitMs: 0 });
      expect(env!.payload.data).toEqual({ secret: inData });
      expect(env!.payloadDigest).toBe(canonicalHash(env!.payload));
      await jobs.runners.progress(
        r1,
        { jobId: env!.jobId, leaseId: env!.leaseId, fencingToken: env!.fencingToken },
        { pct: 50, message: `halfway ${inData}` },
      );
      await jobs.runners.complete(
        r1,
        { jobId: env!.jobId, leaseId: env!.leaseId, fencingToken: env!.fencingToken },
        { data: { answer: outData } },
      );

      const done = await raw('t1', req.id);
      expect(isEncrypted(done.result.data)).toBe(true);
      expect(done.result.success).toBe(true);
      expect(JSON.stringify(done)).not.toContain(outData);
      expect((await jobs.queries.get('t1', req.id)).result?.data).toEqual({ answer: outData });

      const events = await db.query<{ data: any }>(`select data from job_events where job_id = $1 and type = 'job.progress'`, [req.id]);
      expect(isEncrypted(events.rows[0]!.data.message)).toBe(true);
      expect(events.rows[0]!.data.pct).toBe(50);
      expect((await jobs.queries.events('t1', req.id, '0')).find((e) => e.type === 'job.progress')?.data).toEqual({
        status: 'running',
        pct: 50,
        message: `halfway ${inData}`,
      });
    });

    it('encrypts error messages and details of failures, on the job and on its attempts', async () => {
      const m = marker();
      const req = job({ retryPolicy: { maxRetries: 0, backoffMs: 0, maxBackoffMs: 0, backoffMultiplier: 1 } });
      await jobs.submission.submit('t1', null, req);
      const [env] = await jobs.runners.claim(r1, { max: 1, waitMs: 0 });
      await jobs.runners.fail(
        r1,
        { jobId: env!.jobId, leaseId: env!.leaseId, fencingToken: env!.fencingToken },
        {
          category: 'RUNTIME_ERROR',
          message: `could not parse ${m}`,
          retryable: false,
          details: [{ path: ['payload', 'data'], message: `bad value ${m}` }],
        },
      );
      const stored = await raw('t1', req.id);
      const attempts = await db.query<{ error: any }>('select error from job_attempts where job_id = $1', [req.id]);
      for (const envelope of [stored.error, stored.result.error, attempts.rows[0]!.error]) {
        expect(isEncrypted(envelope.message)).toBe(true);
        expect(isEncrypted(envelope.details)).toBe(true);
        expect(envelope.code).toBe('HANDLER_FAILED');
      }
      expect(JSON.stringify([stored, attempts.rows])).not.toContain(m);
      const got = await jobs.queries.get('t1', req.id);
      expect(got.error).toMatchObject({
        message: `could not parse ${m}`,
        details: [{ path: ['payload', 'data'], message: `bad value ${m}` }],
      });
      expect(got.result?.error?.message).toBe(`could not parse ${m}`);
      expect((await jobs.queries.attempts('t1', req.id))[0]).toMatchObject({ error: { message: `could not parse ${m}` } });
    });

    it('refuses a ciphertext moved to another row, another field or another tenant', async () => {
      const [a, b, other] = [job({ payload: { type: 'echo', data: { n: 1 }, options: { o: 1 } } }), job(), job()];
      await jobs.submission.submitMany('t1', null, [a, b]);
      await jobs.submission.submit('t2', null, other);

      // row A's payload data copied into row B (same tenant, same field)
      await db.query(
        `update jobs set request = jsonb_set(request, '{payload,data}', (select request -> 'payload' -> 'data' from jobs where tenant_id = 't1' and id = $1)) where tenant_id = 't1' and id = $2`,
        [a.id, b.id],
      );
      const moved = await store.getJob(db, 't1', b.id).catch((e: unknown) => e);
      expect(moved).toBeInstanceOf(InternalError);
      expect(moved).toMatchObject({ code: 'CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED' });
      expect((moved as Error).message).toBe(
        `Cannot decrypt jobs.request.payload.data of row ${b.id}: the ciphertext does not authenticate (it was altered, or belongs to another row, field or tenant).`,
      );
      // the API answers an internal error, never the ciphertext or a partial value
      await expect(jobs.queries.get('t1', b.id)).rejects.toSatisfy((err) => isInternalError(err, 'CP_CRYPTO_DECRYPT_'));

      // row A's options swapped into its own data field
      await db.query(
        `update jobs set request = jsonb_set(request, '{payload,data}', request -> 'payload' -> 'options') where tenant_id = 't1' and id = $1`,
        [a.id],
      );
      await expect(store.getJob(db, 't1', a.id)).rejects.toMatchObject({
        name: 'InternalError',
        code: 'CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED',
      });

      // t2's payload copied into a t1 row: t1 has no such data key
      const t2 = await raw('t2', other.id);
      const c = job();
      await jobs.submission.submit('t1', null, c);
      await db.query(`update jobs set request = jsonb_set(request, '{payload,data}', $1::jsonb) where tenant_id = 't1' and id = $2`, [
        JSON.stringify(t2.request.payload.data),
        c.id,
      ]);
      const foreign = await store.getJob(db, 't1', c.id).catch((e: unknown) => e);
      expect(foreign).toMatchObject({ name: 'InternalError', code: 'CP_CRYPTO_DECRYPT_UNKNOWN_DATA_KEY' });
      expect((foreign as Error).message).toContain(`jobs.request.payload.data of row ${c.id}`);
      expect((foreign as Error).message).toContain('does not exist for this tenant');

      // the same id in the other tenant still reads fine: nothing leaked across
      expect((await jobs.queries.get('t2', other.id)).request.payload.data).toEqual({ n: 1 });
    });

    it('refuses at start-up a key store on the pool whose transactions it would serve', () => {
      expect(() => new JobStore(keyDb, { cipher: enc.cipher })).toThrow(/pool of its own/);
    });

    it('reads rows written before encryption was on, and a store without a cipher is unchanged', async () => {
      const plain = new JobStore(db);
      const clearJobs = new JobLifecycle({
        db,
        store: plain,
        queue: new PostgresQueue(db, plain),
        jobTypes: new JobTypeRegistry(),
        logger,
      });
      const req = job({ payload: { type: 'echo', data: { legacy: true } } });
      await clearJobs.submission.submit('t1', null, req);
      expect((await raw('t1', req.id)).request.payload.data).toEqual({ legacy: true });
      expect((await jobs.queries.get('t1', req.id)).request.payload.data).toEqual({ legacy: true });
    });
  });

  describe('TruthStore', () => {
    let assertions: AssertionService;
    let results: JobResultService;
    let runner: Awaited<ReturnType<typeof issueRunner>>;

    beforeAll(async () => {
      const truth = new TruthStore({ cipher: enc.cipher, sensitivePredicates: ['ssn'] });
      assertions = new AssertionService({ db, store: truth });
      const ca = await createCertificateAuthority({ trustDomain: TRUST_DOMAIN });
      results = new JobResultService({
        db,
        store: truth,
        assertions,
        trustDomain: TRUST_DOMAIN,
        anchors: parseTrustAnchors(ca.certPem),
        logger,
      });
      runner = await issueRunner(ca, TRUST_DOMAIN, 't1');
    });

    const rawAssertion = async (id: string) =>
      (
        await db.query<{ object: unknown; object_hash: Buffer; object_encrypted: boolean }>(
          'select object, object_hash, object_encrypted from truth_assertions where id = $1',
          [id],
        )
      ).rows[0]!;
    const assertion = (
      o: Record<string, unknown>,
    ): { id: string; subject: string; predicate: string; timestamp: string; source: string; object?: unknown; [k: string]: unknown } => ({
      id: randomUUID(),
      subject: 'person:1',
      predicate: 'email',
      timestamp: new Date().toISOString(),
      source: 'test',
      ...o,
    });

    it('encrypts sensitive objects with a blind index, keeps others clear, and finds both by object', async () => {
      const m = marker();
      const secret = assertion({ object: { email: m }, metadata: { sensitive: true } });
      const byPredicate = assertion({ predicate: 'ssn', object: m });
      const open = assertion({ object: { email: m }, timestamp: new Date(Date.now() - 1000).toISOString() });
      for (const a of [secret, byPredicate, open]) expect((await assertions.assert('t1', 'apikey:x', a)).created).toBe(true);

      const s = await rawAssertion(secret.id);
      expect(s.object_encrypted).toBe(true);
      expect(isEncrypted(s.object)).toBe(true);
      expect(s.object_hash.equals(objectHash({ email: m }))).toBe(false);
      expect((await rawAssertion(byPredicate.id)).object_encrypted).toBe(true);
      const o = await rawAssertion(open.id);
      expect(o).toMatchObject({ object_encrypted: false, object: { email: m } });
      expect(o.object_hash.equals(objectHash({ email: m }))).toBe(true);

      // an equality query finds the encrypted and the clear assertion, newest first
      const found = await assertions.query('t1', { pattern: { object: { email: m } }, limit: 1 });
      expect(found.totalCount).toBe(2);
      expect(found.assertions.map((a) => a.id)).toEqual([secret.id]);
      const next = await assertions.query('t1', { pattern: { object: { email: m } }, limit: 1, cursor: found.nextCursor! });
      expect(next.assertions.map((a) => a.id)).toEqual([open.id]);
      expect(found.assertions[0]!.object).toEqual({ email: m });
      expect((await assertions.query('t1', { pattern: { predicate: 'ssn', object: m } })).assertions[0]!.object).toBe(m);
      // another tenant's blind index differs: it does not find t1's value
      expect((await assertions.query('t2', { pattern: { object: { email: m } } })).totalCount).toBe(0);

      // idempotent re-send compares clear content
      expect((await assertions.assert('t1', 'apikey:x', secret)).created).toBe(false);
      await expectCode(assertions.assert('t1', 'apikey:x', { ...secret, object: { email: 'other' } }), 'IDEMPOTENCY_CONFLICT');
      expect((await assertions.get('t1', secret.id)).object).toEqual({ email: m });
    });

    it('refuses an encrypted object moved to another assertion', async () => {
      const [a, b] = [
        assertion({ object: marker(), metadata: { sensitive: true } }),
        assertion({ object: marker(), metadata: { sensitive: true } }),
      ];
      await assertions.assert('t1', 'apikey:x', a);
      await assertions.assert('t1', 'apikey:x', b);
      await db.query(`update truth_assertions set object = (select object from truth_assertions where id = $1) where id = $2`, [
        a.id,
        b.id,
      ]);
      await expect(assertions.get('t1', b.id)).rejects.toMatchObject({
        name: 'InternalError',
        code: 'CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED',
      });
      expect((await assertions.get('t1', a.id)).object).toBe(a.object);
    });

    it('encrypts job results and evidence, re-verifies their signatures over the clear values', async () => {
      const m = marker();
      const d = delivery(runner, {
        tenantId: 't1',
        data: { out: m },
        evidence: evidencePacket(runner.id, [{ key: 'seen', value: m, source: 'sandbox', redacted: false }]),
      });
      const rec = await results.record('jobforge', d);
      expect(rec.duplicate).toBe(false);
      expect((await results.record('jobforge', d)).duplicate).toBe(true);
      const prov = await db.query<{ result: any; evidence: any }>('select result, evidence from truth_job_provenance where job_id = $1', [
        d.jobId,
      ]);
      const resultAssertions = await db.query<{ object: unknown; object_encrypted: boolean }>(
        `select object, object_encrypted from truth_assertions where subject = $1 and predicate = 'result'`,
        [`job:${d.jobId}`],
      );
      expect(isEncrypted(prov.rows[0]!.result.data)).toBe(true);
      expect(isEncrypted(prov.rows[0]!.evidence.items)).toBe(true);
      expect(prov.rows[0]!.evidence.hash).toBe(d.evidence!.hash);
      expect(resultAssertions.rows[0]).toMatchObject({ object_encrypted: true });
      expect(JSON.stringify([prov.rows, resultAssertions.rows])).not.toContain(m);

      const view = await results.provenance('t1', d.jobId);
      expect(view.records[0]).toMatchObject({ signatureValid: true, result: { data: { out: m } }, evidence: { hashValid: true } });
      const q = await assertions.query('t1', { pattern: { subject: `job:${d.jobId}`, predicate: 'result' } });
      expect((q.assertions[0]!.object as any).data).toEqual({ out: m });
    });
  });
});
