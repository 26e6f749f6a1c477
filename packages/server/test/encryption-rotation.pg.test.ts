// Key rotation while the system runs, on real PostgreSQL: a data-key rotation with jobs being
// submitted, claimed, completed and failed throughout ends with every stored value readable and on
// the new keys; a rotation resumes from its cursor after a crash; a KEK rotation re-wraps every key
// without services losing the ability to read.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isInternalError } from '@controlplane/contracts';
import { addKekToKeyringFile, createLogger, dataKeyIdOf, generateKeyringFile, Keyring, LocalFileKeyProvider } from '@controlplane/platform';
import {
  AssertionService,
  createPostgresDatabase,
  JobLifecycle,
  JobStore,
  JobTypeRegistry,
  KeyRotation,
  migrate,
  openFieldEncryption,
  PostgresDataKeyStore,
  PostgresQueue,
  TruthStore,
  type Database,
  type FieldEncryption,
  type RunnerIdentity,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { job, resetJobs, seedTenants } from './support/queue-conformance.js';

const logger = createLogger({ service: 'test', level: 'silent' });

describe('key rotation (PostgreSQL)', () => {
  let tdb: TestDatabase;
  let db: Database;
  const pools: Database[] = [];
  let dir: string;
  let keyringFile: string;
  /** The running services' view: its own key pool and a short key cache, as a separate process would have. */
  let service: FieldEncryption;
  let jobs: JobLifecycle;
  const runners: Record<string, RunnerIdentity> = {
    t1: { id: 'runner-1', tenantId: 't1', pool: 'default', jobTypes: ['echo'] },
    t2: { id: 'runner-2', tenantId: 't2', pool: 'default', jobTypes: ['echo'] },
  };

  const pool = (name: string, max = 2) => {
    const p = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: max, applicationName: name });
    pools.push(p);
    return p;
  };
  /** An operator's rotation process: its own pools and keyring, reading the same keyring file. */
  const rotationProcess = async (o: { batchSize?: number; graceMs?: number } = {}) => {
    const enc = await openFieldEncryption({ keyringFile, keyDb: pool('rotation-keys') });
    return {
      enc,
      rotation: new KeyRotation({
        db: pool('rotation-app'),
        keyring: enc.keyring,
        store: enc.store,
        batchSize: o.batchSize ?? 25,
        graceMs: o.graceMs ?? 0,
        logger,
      }),
    };
  };

  beforeAll(async () => {
    tdb = await createTestDatabase();
    db = pool('service-app', 8);
    await migrate(db);
    await seedTenants(db);
    dir = mkdtempSync(join(tmpdir(), 'cp-rot-'));
    keyringFile = join(dir, 'keyring.json');
    await generateKeyringFile(keyringFile);
    service = await openFieldEncryption({ keyringFile, keyDb: pool('service-keys'), cacheTtlMs: 200 });
    const store = new JobStore(db, { cipher: service.cipher });
    jobs = new JobLifecycle({ db, store, queue: new PostgresQueue(db, store), jobTypes: new JobTypeRegistry(), logger, leaseMs: 5_000 });
  });

  afterAll(async () => {
    for (const p of pools) await p.close();
    await tdb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await db.query(`update key_rotation_runs set status = 'cancelled' where status = 'running'`);
  });

  const signedProof = { signature: 'v1.stand-in', certFingerprint: 'AA:BB', verify: () => true };

  /** Runs jobs end to end for both tenants until stopped: submit, claim, progress, complete or fail. */
  function startLoad(): { finished(): number; stop(): Promise<number> } {
    let stopped = false;
    let finished = 0;
    const loop = async (tenant: 't1' | 't2') => {
      let i = 0;
      while (!stopped) {
        i++;
        await jobs.submission.submitMany(tenant, null, [
          job({ payload: { type: 'echo', data: { i, tenant } } }),
          job({
            payload: { type: 'echo', data: { i: -i } },
            retryPolicy: { maxRetries: 0, backoffMs: 0, maxBackoffMs: 0, backoffMultiplier: 1 },
          }),
        ]);
        const envs = await jobs.runners.claim(runners[tenant]!, { max: 2, waitMs: 0 });
        for (const env of envs) {
          const ref = { jobId: env.jobId, leaseId: env.leaseId, fencingToken: env.fencingToken };
          await jobs.runners.progress(runners[tenant]!, ref, { message: `working on ${env.jobId}` });
          if ((env.payload.data as { i: number }).i > 0)
            await jobs.runners.complete(runners[tenant]!, ref, { data: { echoed: env.payload.data } });
          // With a (stand-in) runner signature: the failure report is queued for TruthCore, its
          // message and details encrypted in the outbox, which the rotation must sweep too.
          else
            await jobs.runners.fail(
              runners[tenant]!,
              ref,
              { category: 'RUNTIME_ERROR', message: 'negative', retryable: false, details: [{ message: String(env.payload.data.i) }] },
              signedProof,
            );
          finished++;
        }
      }
    };
    const running = Promise.all([loop('t1'), loop('t2')]);
    return {
      finished: () => finished,
      async stop() {
        stopped = true;
        await running;
        return finished;
      },
    };
  }

  async function expectAllOnCurrentKeys(rotation: KeyRotation) {
    const check = await rotation.checkStoredValues();
    expect(check.unreadable).toEqual([]);
    expect(check.stale).toBe(0);
    expect(check.clear).toBe(0);
    expect(check.values).toBeGreaterThan(0);
    // and through the service: every job reads back clear
    for (const tenant of ['t1', 't2']) {
      const rows = await jobs.queries.list(tenant, { limit: 1000 });
      for (const r of rows) expect(typeof r.request.payload.data).toBe('object');
    }
  }

  it('a data-key rotation while jobs run ends with every row readable and on the new keys', async () => {
    // Rows written before encryption was switched on are encrypted by the sweep too.
    const plain = new JobStore(db);
    await new JobLifecycle({
      db,
      store: plain,
      queue: new PostgresQueue(db, plain),
      jobTypes: new JobTypeRegistry(),
      logger,
    }).submission.submitMany('t1', null, [job(), job()]);
    const truth = new AssertionService({ db, store: new TruthStore() });
    await truth.assert('t1', 'apikey:x', {
      id: randomUUID(),
      subject: 's:1',
      predicate: 'p',
      object: { hidden: 1 },
      timestamp: new Date().toISOString(),
      source: 't',
      metadata: { sensitive: true },
    });

    const load = startLoad();
    await sleep(300);
    const before = { t1: (await service.store.current('t1'))!.id, t2: (await service.store.current('t2'))!.id };
    // Grace longer than the services' 200 ms key cache: after it, nobody encrypts with the old keys.
    const { enc, rotation } = await rotationProcess({ batchSize: 20, graceMs: 500 });
    await rotation.start('test');
    const steps: string[] = [];
    const finishedBefore = load.finished();
    const run = await rotation.runToCompletion({ onStep: (s) => steps.push(s.state), pollMs: 20 });
    const finishedDuring = load.finished() - finishedBefore;
    await load.stop();

    expect(run?.status).toBe('completed');
    expect(steps).toContain('waiting');
    expect(finishedDuring).toBeGreaterThan(10);
    expect(run!.rowsRewritten).toBeGreaterThan(0);
    const after = { t1: (await enc.store.current('t1'))!.id, t2: (await enc.store.current('t2'))!.id };
    expect(after.t1).not.toBe(before.t1);
    expect(after.t2).not.toBe(before.t2);
    const retired = await db.query<{ id: string }>('select id from data_keys where retired_at is not null');
    expect(retired.rows.map((r) => r.id)).toEqual(expect.arrayContaining([before.t1, before.t2]));
    await expectAllOnCurrentKeys(rotation);
    const reports = await db.query<{ message: string }>(
      `select failure ->> 'message' as message from result_outbox where outcome = 'failed'`,
    );
    expect(reports.rows.length).toBeGreaterThan(0);
    for (const r of reports.rows) expect(dataKeyIdOf(r.message)).toMatch(new RegExp(`^(${after.t1}|${after.t2})$`));
    const stored = await db.query<{ object: unknown; object_encrypted: boolean }>(
      `select object, object_encrypted from truth_assertions where subject = 's:1'`,
    );
    expect(stored.rows[0]).toMatchObject({ object_encrypted: true });
    expect(dataKeyIdOf(stored.rows[0]!.object as string)).toBe(after.t1);
  });

  it('resumes from the stored cursor after a crash, and never launders a tampered value', async () => {
    await resetJobs(db);
    for (let i = 0; i < 6; i++)
      await jobs.submission.submitMany(
        't1',
        null,
        Array.from({ length: 20 }, () => job()),
      );
    const first = await rotationProcess({ batchSize: 10 });
    await first.rotation.start('test');
    expect((await first.rotation.step()).state).toBe('progress'); // new keys current
    for (let i = 0; i < 3; i++) expect((await first.rotation.step()).state).toBe('progress');
    const mid = (await first.rotation.currentRun())!;
    expect(mid).toMatchObject({ phase: 'jobs', rowsRewritten: 30 });
    expect(mid.cursor).toHaveLength(2);

    // A value tampered with after the cursor: its batch fails as a whole and the cursor stays put.
    const victim = (
      await db.query<{ id: string }>(
        `select id from jobs where tenant_id = 't1' and (tenant_id, id) > ($1, $2::uuid) order by id limit 1`,
        mid.cursor as string[],
      )
    ).rows[0]!.id;
    const original = (await db.query<{ request: any }>('select request from jobs where id = $1', [victim])).rows[0]!.request;
    const broken = original.payload.data.slice(0, -4) + (original.payload.data.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    await db.query(`update jobs set request = jsonb_set(request, '{payload,data}', to_jsonb($1::text)) where id = $2`, [broken, victim]);
    // "The process crashes": this one is abandoned, another picks the run up from the database.
    const second = await rotationProcess({ batchSize: 10 });
    await expect(second.rotation.runToCompletion()).rejects.toSatisfy((err) => isInternalError(err, 'CP_CRYPTO_DECRYPT_'));
    expect((await second.rotation.currentRun())!.cursor).toEqual(mid.cursor);

    await db.query(`update jobs set request = $1 where id = $2`, [original, victim]);
    const done = await second.rotation.runToCompletion();
    expect(done).toMatchObject({ status: 'completed' });
    expect(done!.rowsRewritten).toBeGreaterThanOrEqual(120);
    await expectAllOnCurrentKeys(second.rotation);
  });

  it('skips rows a running transaction holds, comes back for them, and allows one run at a time', async () => {
    await resetJobs(db);
    await jobs.submission.submitMany(
      't1',
      null,
      Array.from({ length: 30 }, () => job()),
    );
    const { rotation } = await rotationProcess({ batchSize: 10 });
    await rotation.start('test');
    await expect(rotation.start('again')).rejects.toMatchObject({ name: 'InternalError', code: 'CP_KEYS_ROTATION_IN_PROGRESS' });
    await rotation.step();
    const ids = (await db.query<{ id: string }>(`select id from jobs where tenant_id = 't1' order by id`)).rows.map((r) => r.id);

    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = pool('holder', 1);
    const holding = holder.transaction(async (tx) => {
      await tx.query('select 1 from jobs where id = $1 for update', [ids[4]]);
      locked();
      await held;
    });
    await isLocked;
    const s = await rotation.step();
    expect(s).toMatchObject({ state: 'progress', locked: 1 });
    // the cursor stops just before the held row
    expect((await rotation.currentRun())!.cursor).toEqual(['t1', ids[3]]);
    release();
    await holding;
    expect((await rotation.runToCompletion())?.status).toBe('completed');
    await expectAllOnCurrentKeys(rotation);
  });

  it('a KEK rotation re-wraps every data key while services keep reading', async () => {
    await resetJobs(db);
    const ids = (await jobs.submission.submitMany('t2', null, [job(), job()])).map((j) => j.id);
    await service.cipher.blindIndex('t2', 'warm'); // a blind-index root, wrapped like a data key
    // A service that loaded the keyring before the rotation and never re-reads it:
    const stale = new Keyring({
      provider: await LocalFileKeyProvider.load(keyringFile),
      store: new PostgresDataKeyStore(pool('stale-keys')),
    });

    // The operator adds a KEK to the shared keyring file; the rotation process loads it.
    const { kekId } = await addKekToKeyringFile(keyringFile);
    const { enc, rotation } = await rotationProcess();
    expect(enc.provider.currentKekId()).toBe(kekId);
    const n = await rotation.rewrapAll();
    expect(n).toBeGreaterThanOrEqual(3);
    expect(await rotation.rewrapAll()).toBe(0);
    expect((await enc.store.summary()).byKek).toEqual([{ kekId, records: n }]);

    // The running service's cached keys expire: it meets the new KEK id, re-reads the file, goes on.
    service.keyring.clearCache();
    for (const id of ids) expect((await jobs.queries.get('t2', id)).request.payload.data).toEqual({ n: 1 });
    expect(await service.cipher.blindIndex('t2', 'warm')).toBeTypeOf('string');
    // Without re-reading the file it could not have.
    await expect(stale.dataKey('t2', (await enc.store.current('t2'))!.id)).rejects.toMatchObject({ code: 'CP_KEYRING_KEK_NOT_FOUND' });
  });
});
