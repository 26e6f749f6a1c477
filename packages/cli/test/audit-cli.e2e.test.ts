import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditLog,
  createPgliteDatabase,
  createPostgresDatabase,
  migrate,
  type AuditEvent,
  type AuditRecord,
  type Database,
} from '@controlplane/server';
import { createTestDatabase, TEST_SERVICE_ROLE, type TestDatabase } from '../../../test/support/postgres.js';
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

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cp-cli-audit-'));
  tempDirs.push(dir);
  return dir;
}

function event(i: number): AuditEvent {
  return {
    tenantId: i % 2 === 0 ? 'acme' : 'globex',
    actor: { kind: 'apikey', id: `key-${i}` },
    action: 'job.submitted',
    resource: { kind: 'job', id: `job-${i}` },
    outcome: 'success',
    details: { i },
  };
}

async function seed(db: Database, count: number): Promise<AuditRecord[]> {
  await migrate(db);
  const log = new AuditLog(db);
  const records: AuditRecord[] = [];
  for (let i = 1; i <= count; i++) records.push(await log.record(event(i)));
  return records;
}

describe('controlplane audit on PostgreSQL', () => {
  const databases: TestDatabase[] = [];
  let intact: TestDatabase;
  let tampered: TestDatabase;
  let records: AuditRecord[];

  beforeAll(async () => {
    [intact, tampered] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    databases.push(intact, tampered);
    for (const [target, into] of [
      [intact, 'intact'],
      [tampered, 'tampered'],
    ] as const) {
      const db = createPostgresDatabase({
        unscoped: 'system',
        connectionString: target.url,
        maxConnections: 2,
        applicationName: 'audit-cli-seed',
      });
      try {
        const seeded = await seed(db, 6);
        if (into === 'intact') records = seeded;
        else {
          // Tampering takes a superuser: the service role has no UPDATE policy on the table at all.
          const admin = createPostgresDatabase({
            unscoped: 'system',
            connectionString: target.adminUrl,
            maxConnections: 1,
            applicationName: 'audit-cli-attacker',
          });
          try {
            await admin.query(
              `alter table audit_events disable trigger user; update audit_events set outcome = 'denied' where seq = 4; alter table audit_events enable trigger user`,
            );
          } finally {
            await admin.close();
          }
        }
      } finally {
        await db.close();
      }
    }
  });

  afterAll(async () => {
    for (const d of databases) await d.drop();
    for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('verify exits 0 on an intact chain and reports its head', async () => {
    const res = await run(['audit', 'verify', '--no-checkpoints', '--database-url', intact.url]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(EXIT.OK);
    expect(res.stdout).toContain('audit chain intact: 6 events verified');
    expect(res.stdout).toContain(`head: 6:${records[5]!.hash}`);
  });

  it('verify connects as psql would when the URL names no user: as PGUSER, else as the operating-system user', async () => {
    const { host, pathname } = new URL(intact.url);
    const bare = `postgres://${host}${pathname}`;
    // The environment is the one given to the CLI; $USER is not read (containers often leave it unset).
    const asService = await run(['audit', 'verify', '--no-checkpoints', '--database-url', bare], { PGUSER: TEST_SERVICE_ROLE });
    expect(asService.stderr).toBe('');
    expect(asService.code).toBe(EXIT.OK);
    expect(asService.stdout).toContain(`audit chain intact: 6 events verified in postgres://${TEST_SERVICE_ROLE}@${host}${pathname}`);

    // The server's admin role is the operating-system user unless TEST_DATABASE_URL names another;
    // then that one comes in as PGUSER, and the operating-system default is not what is tested.
    const admin = decodeURIComponent(new URL(intact.adminUrl).username);
    const osUser = userInfo().username;
    const asAdmin = await run(['audit', 'verify', '--no-checkpoints', '--database-url', bare], admin === osUser ? {} : { PGUSER: admin });
    expect(asAdmin.stderr).toBe('');
    expect(asAdmin.code).toBe(EXIT.OK);
    expect(asAdmin.stdout).toContain(`audit chain intact: 6 events verified in postgres://${encodeURIComponent(admin)}@${host}${pathname}`);
  });

  it('verify reads DATABASE_URL when no flag is given, and prints JSON on request', async () => {
    const res = await run(['audit', 'verify', '--no-checkpoints', '--json'], { DATABASE_URL: intact.url });
    expect(res.code).toBe(EXIT.OK);
    expect(JSON.parse(res.stdout)).toEqual({ ok: true, count: 6, headSeq: '6', headHash: records[5]!.hash });
  });

  it('verify exits 1 on a tampered chain and names the first broken link', async () => {
    const res = await run(['audit', 'verify', '--no-checkpoints', '--database-url', tampered.url]);
    expect(res.code).toBe(EXIT.FAILURE);
    expect(res.stdout).toContain('audit chain BROKEN at seq 4: hash_mismatch');
    expect(res.stdout).toContain('3 events before it verified intact');
    const json = await run(['audit', 'verify', '--no-checkpoints', '--database-url', tampered.url, '--json']);
    expect(json.code).toBe(EXIT.FAILURE);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, count: 3, firstBad: { seq: '4', reason: 'hash_mismatch' } });
  });

  it('verify checks an anchor from an earlier run', async () => {
    const good = await run(['audit', 'verify', '--no-checkpoints', '--database-url', intact.url, '--expect-head', `6:${records[5]!.hash}`]);
    expect(good.code).toBe(EXIT.OK);
    const rewritten = await run([
      'audit',
      'verify',
      '--no-checkpoints',
      '--database-url',
      intact.url,
      '--expect-head',
      `6:${'ab'.repeat(32)}`,
    ]);
    expect(rewritten.code).toBe(EXIT.FAILURE);
    expect(rewritten.stdout).toContain('BROKEN at seq 6: hash_mismatch');
    const truncated = await run([
      'audit',
      'verify',
      '--no-checkpoints',
      '--database-url',
      intact.url,
      '--expect-head',
      `9:${records[5]!.hash}`,
    ]);
    expect(truncated.code).toBe(EXIT.FAILURE);
    expect(truncated.stdout).toContain('BROKEN at seq 9: missing_seq');
    const malformed = await run(['audit', 'verify', '--no-checkpoints', '--database-url', intact.url, '--expect-head', 'latest']);
    expect(malformed.code).toBe(EXIT.USAGE);
  });

  it('export writes JSON Lines to a private file, and verify --file checks it offline', async () => {
    const file = join(tempDir(), 'audit.jsonl');
    const res = await run(['audit', 'export', '--database-url', intact.url, '--out', file]);
    expect(res.code).toBe(EXIT.OK);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe(`exported 6 audit events (seq 1–6) to ${file}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual(records);

    expect((await run(['audit', 'verify', '--file', file])).code).toBe(EXIT.OK);

    const existing = join(tempDir(), 'existing.jsonl');
    writeFileSync(existing, 'old content that is longer than nothing\n', { mode: 0o644 });
    expect((await run(['audit', 'export', '--database-url', intact.url, '--out', existing])).code).toBe(EXIT.OK);
    expect(statSync(existing).mode & 0o777).toBe(0o600);
    expect(readFileSync(existing, 'utf8')).toBe(readFileSync(file, 'utf8'));
    const nowhere = await run(['audit', 'export', '--database-url', intact.url, '--out', join(tempDir(), 'missing-dir', 'a.jsonl')]);
    expect(nowhere.code).toBe(EXIT.FAILURE);
    expect(nowhere.stderr).toContain('cannot write');
    const edited = join(tempDir(), 'edited.jsonl');
    writeFileSync(edited, lines.map((l, i) => (i === 1 ? l.replace('"outcome":"success"', '"outcome":"failure"') : l)).join('\n') + '\n');
    const broken = await run(['audit', 'verify', '--file', edited]);
    expect(broken.code).toBe(EXIT.FAILURE);
    expect(broken.stdout).toContain('BROKEN at seq 2: hash_mismatch');
    const gap = join(tempDir(), 'gap.jsonl');
    writeFileSync(gap, lines.filter((_, i) => i !== 2).join('\n') + '\n');
    expect((await run(['audit', 'verify', '--file', gap])).stdout).toContain('BROKEN at seq 3: missing_seq');
  });

  it('an export passes the standalone script in docs/audit.md, and an edited one fails it', async () => {
    const doc = readFileSync(fileURLToPath(new URL('../../../docs/audit.md', import.meta.url)), 'utf8');
    const script = /### Verifying an export without ControlPlane[\s\S]*?```js\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(script, 'the verification script in docs/audit.md').toBeDefined();
    const dir = tempDir();
    writeFileSync(join(dir, 'verify-audit-export.mjs'), script ?? '');
    const file = join(dir, 'audit.jsonl');
    expect((await run(['audit', 'export', '--database-url', intact.url, '--out', file])).code).toBe(EXIT.OK);
    const node = (f: string) =>
      spawnSync(process.execPath, ['verify-audit-export.mjs', f], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    const good = node('audit.jsonl');
    expect(good.stdout).toBe(`intact: 6 events, head 6:${records[5]!.hash}\n`);
    expect(good.status).toBe(0);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    writeFileSync(
      join(dir, 'edited.jsonl'),
      lines.map((l, i) => (i === 4 ? l.replace('"tenantId":"globex"', '"tenantId":"acme"') : l)).join('\n'),
    );
    const edited = node('edited.jsonl');
    expect(edited.stdout).toBe('broken at seq 5: hash mismatch\n');
    expect(edited.status).toBe(1);
  });

  it('export filters by tenant and time and writes to stdout', async () => {
    const res = await run(['audit', 'export', '--database-url', intact.url, '--tenant', 'acme', '--since', records[2]!.occurredAt]);
    expect(res.code).toBe(EXIT.OK);
    const seqs = res.stdout
      .trimEnd()
      .split('\n')
      .map((l) => (JSON.parse(l) as AuditRecord).seq);
    expect(seqs).toEqual(records.filter((r) => r.tenantId === 'acme' && r.occurredAt >= records[2]!.occurredAt).map((r) => r.seq));
    expect(seqs).toContain('6');
    expect((await run(['audit', 'export', '--database-url', intact.url, '--since', 'last tuesday'])).code).toBe(EXIT.USAGE);
  });

  it('says why when there is nothing to verify', async () => {
    const empty = await createTestDatabase();
    databases.push(empty);
    const unmigrated = await run(['audit', 'verify', '--no-checkpoints', '--database-url', empty.url]);
    expect(unmigrated.code).toBe(EXIT.NOT_FOUND);
    expect(unmigrated.stderr).toContain('has no audit log');

    const url = new URL(intact.url);
    url.port = '1';
    url.password = 'hunter2';
    const unreachable = await run(['audit', 'verify', '--no-checkpoints', '--database-url', url.toString()]);
    expect(unreachable.code).toBe(EXIT.UNAVAILABLE);
    expect(unreachable.stderr).toContain('cannot reach the database');
    expect(unreachable.stderr).not.toContain('hunter2');

    const missingFile = await run(['audit', 'verify', '--file', join(tempDir(), 'absent.jsonl')]);
    expect(missingFile.code).toBe(EXIT.NOT_FOUND);
  });
});

describe('controlplane audit on the embedded database', () => {
  let dataDir: string;
  let head: string;

  beforeAll(async () => {
    dataDir = tempDir();
    const db = await createPgliteDatabase({ dataDir: join(dataDir, 'db') });
    try {
      head = (await seed(db, 4))[3]!.hash;
    } finally {
      await db.close();
    }
  });

  it('verify finds <data dir>/db through CONTROLPLANE_DATA_DIR or --data-dir', async () => {
    const viaEnv = await run(['audit', 'verify', '--no-checkpoints', '--json'], { CONTROLPLANE_DATA_DIR: dataDir });
    expect(viaEnv.stderr).toBe('');
    expect(JSON.parse(viaEnv.stdout)).toEqual({ ok: true, count: 4, headSeq: '4', headHash: head });
    const viaFlag = await run(['audit', 'verify', '--no-checkpoints', '--data-dir', dataDir]);
    expect(viaFlag.code).toBe(EXIT.OK);
    expect(viaFlag.stdout).toContain(`audit chain intact: 4 events verified in ${join(dataDir, 'db')}`);
  });

  it('export reads it too', async () => {
    const res = await run(['audit', 'export', '--data-dir', dataDir, '--tenant', 'acme']);
    expect(res.code).toBe(EXIT.OK);
    expect(
      res.stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as AuditRecord).seq),
    ).toEqual(['2', '4']);
  });

  it('refuses to create an empty database where none exists', async () => {
    const elsewhere = tempDir();
    const res = await run(['audit', 'verify', '--no-checkpoints'], { CONTROLPLANE_DATA_DIR: elsewhere });
    expect(res.code).toBe(EXIT.NOT_FOUND);
    expect(res.stderr).toContain(`no embedded database in ${join(elsewhere, 'db')}`);
    expect(() => statSync(join(elsewhere, 'db'))).toThrow();
  });
});
