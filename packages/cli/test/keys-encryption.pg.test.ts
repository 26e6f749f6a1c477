import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, isEncrypted } from '@controlplane/platform';
import {
  createPostgresDatabase,
  JobLifecycle,
  JobStore,
  JobTypeRegistry,
  KeyRotation,
  migrate,
  openFieldEncryption,
  PostgresQueue,
  type Database,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { EXIT } from '../src/command.js';
import { main } from '../src/main.js';

async function run(
  argv: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(argv, { stdout, stderr, env });
  return { code, stdout: out, stderr: err };
}

const job = (i: number) => ({
  id: randomUUID(),
  type: 'echo',
  payload: { type: 'echo', data: { i } },
  metadata: { source: 'cli-test', createdAt: new Date().toISOString() },
});

describe('controlplane keys init / rotate / status', () => {
  let dir: string;
  let keyring: string;
  let tdb: TestDatabase;
  let db: Database;
  let keyDb: Database;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cp-cli-keys-'));
    keyring = join(dir, 'keyring.json');
    tdb = await createTestDatabase();
    db = createPostgresDatabase({ unscoped: 'system', connectionString: tdb.url, maxConnections: 4, applicationName: 'cli-keys-seed' });
    keyDb = createPostgresDatabase({
      unscoped: 'system',
      connectionString: tdb.url,
      maxConnections: 2,
      applicationName: 'cli-keys-seed-keys',
    });
    await migrate(db);
    await db.query(`insert into tenants (id, name) values ('acme', 'Acme'), ('globex', 'Globex')`);
  });

  afterAll(async () => {
    await db?.close();
    await keyDb?.close();
    await tdb?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('init creates a 0600 keyring once and refuses to overwrite it', async () => {
    const res = await run(['keys', 'init', '--keyring', keyring, '--json']);
    expect(res.code).toBe(EXIT.OK);
    const out = JSON.parse(res.stdout) as { keyring: string; kekId: string };
    expect(out.keyring).toBe(keyring);
    expect(statSync(keyring).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(keyring, 'utf8')).current).toBe(out.kekId);
    const again = await run(['keys', 'init', '--keyring', keyring]);
    expect(again.code).toBe(EXIT.CONFLICT);
    expect(again.stderr).toContain('already exists');
  });

  it('rotate re-wraps under a new KEK and moves every stored value to new data keys', async () => {
    const enc = await openFieldEncryption({ keyringFile: keyring, keyDb });
    const store = new JobStore(db, { cipher: enc.cipher });
    const jobs = new JobLifecycle({
      db,
      store,
      queue: new PostgresQueue(db, store),
      jobTypes: new JobTypeRegistry(),
      logger: createLogger({ service: 'test', level: 'silent' }),
    });
    await jobs.submission.submitMany(
      'acme',
      null,
      Array.from({ length: 15 }, (_, i) => job(i)),
    );
    await jobs.submission.submitMany(
      'globex',
      null,
      Array.from({ length: 5 }, (_, i) => job(i)),
    );
    const before = (await db.query<{ d: string }>(`select request -> 'payload' ->> 'data' as d from jobs limit 1`)).rows[0]!.d;
    expect(isEncrypted(before)).toBe(true);
    const oldKek = JSON.parse(readFileSync(keyring, 'utf8')).current as string;

    const res = await run([
      'keys',
      'rotate',
      '--keyring',
      keyring,
      '--database-url',
      tdb.url,
      '--grace-ms',
      '0',
      '--batch-size',
      '7',
      '--json',
    ]);
    expect(res.stderr).toContain('re-encrypting jobs');
    expect(res.code).toBe(EXIT.OK);
    const out = JSON.parse(res.stdout) as { kekId: string; rewrapped: number; run: { status: string; rowsRewritten: number } };
    expect(out.kekId).not.toBe(oldKek);
    expect(out.rewrapped).toBe(2);
    expect(out.run).toMatchObject({ status: 'completed', rowsRewritten: 20 });
    const file = JSON.parse(readFileSync(keyring, 'utf8')) as { current: string; keys: Record<string, string> };
    expect(file.current).toBe(out.kekId);
    expect(Object.keys(file.keys).sort()).toEqual([oldKek, out.kekId].sort());

    const status = await run(['keys', 'status', '--verify', '--keyring', keyring, '--database-url', tdb.url, '--json']);
    expect(status.code).toBe(EXIT.OK);
    const s = JSON.parse(status.stdout) as {
      currentKek: string;
      dataKeys: { byKek: Array<{ kekId: string; records: number }>; retired: number };
      storedValues: { values: number; stale: number; clear: number; unreadable: unknown[] };
    };
    expect(s.currentKek).toBe(out.kekId);
    expect(s.dataKeys.byKek).toEqual([{ kekId: out.kekId, records: 4 }]);
    expect(s.dataKeys.retired).toBe(2);
    // one value per job: payload.data (the empty options are not encrypted)
    expect(s.storedValues).toMatchObject({ values: 20, stale: 0, clear: 0, unreadable: [] });
    // the services' keyring (loaded before) still reads everything
    enc.keyring.clearCache();
    expect((await jobs.queries.list('acme', { limit: 100 })).length).toBe(15);
    const text = await run(['keys', 'status', '--keyring', keyring, '--database-url', tdb.url]);
    expect(text.stdout).toContain(`current KEK ${out.kekId}`);
    expect(text.stdout).toContain('completed');
  });

  it('refuses a second rotation while one is unfinished, and --resume finishes it', async () => {
    const enc = await openFieldEncryption({ keyringFile: keyring, keyDb });
    const rotation = new KeyRotation({ db, keyring: enc.keyring, store: enc.store, graceMs: 0, batchSize: 5 });
    await rotation.start('test');
    await rotation.step();
    await rotation.step(); // "the operator's terminal closed" half-way
    const busy = await run(['keys', 'rotate', '--data-keys', '--keyring', keyring, '--database-url', tdb.url, '--grace-ms', '0']);
    expect(busy.code).toBe(EXIT.CONFLICT);
    expect(busy.stderr).toContain('--resume');
    const resumed = await run(['keys', 'rotate', '--resume', '--keyring', keyring, '--database-url', tdb.url, '--json']);
    expect(resumed.code).toBe(EXIT.OK);
    expect(resumed.stderr).toContain('resuming data-key rotation');
    expect(JSON.parse(resumed.stdout).run.status).toBe('completed');
    expect(JSON.parse(resumed.stdout).kekId).toBeUndefined();
    const none = await run(['keys', 'rotate', '--resume', '--keyring', keyring, '--database-url', tdb.url]);
    expect(none.code).toBe(EXIT.NOT_FOUND);
  });

  it('fails closed on a missing database, an unreadable keyring and bad flags', async () => {
    // No database URL: the embedded database of the data directory, which has none here.
    const nowhere = await run(['keys', 'rotate', '--keyring', keyring, '--data-dir', join(dir, 'no-data')]);
    expect(nowhere.code).toBe(EXIT.NOT_FOUND);
    expect(nowhere.stderr).toContain('no embedded database');
    expect((await run(['keys', 'rotate', '--keyring', join(dir, 'missing.json'), '--database-url', tdb.url])).stderr).toContain(
      'cannot be read',
    );
    chmodSync(keyring, 0o644);
    const loose = await run(['keys', 'status', '--keyring', keyring, '--database-url', tdb.url]);
    chmodSync(keyring, 0o600);
    expect(loose.code).toBe(EXIT.CONFIG);
    expect(loose.stderr).toContain(`chmod 600 ${keyring}`);
    expect((await run(['keys', 'rotate', '--kek', '--data-keys', '--keyring', keyring, '--database-url', tdb.url])).code).toBe(EXIT.USAGE);
    expect((await run(['keys', 'rotate', '--grace-ms', '-1', '--keyring', keyring, '--database-url', tdb.url])).code).toBe(EXIT.USAGE);
  });
});
