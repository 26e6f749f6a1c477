// The audit head anchored outside the database, attacked as a superuser of the database would: a
// chain whose newest rows are deleted (triggers disabled), one rewritten from the start with every
// hash recomputed (which the chain alone cannot see), a checkpoint forged to match a cut chain or
// signed by a foreign CA, a checkpoint file or the whole directory deleted. `audit verify` (with the
// checkpoints by default) exits 1 and names each; the untouched chain verifies.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, initPki, loadTlsMaterial, servicePkiFiles } from '@controlplane/platform';
import {
  AuditCheckpointer,
  AuditLog,
  computeAuditHash,
  createPostgresDatabase,
  migrate,
  signCheckpoint,
  verifyAuditChain,
  type AuditRecord,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { EXIT } from '../src/command.js';
import { main } from '../src/main.js';

const TRUST_DOMAIN = 'audit-anchor.test';

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(argv, { stdout, stderr, env });
  return { code, stdout: out, stderr: err };
}

interface Setup {
  tdb: TestDatabase;
  dataDir: string;
  checkpoints: string;
  verify(...extra: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Runs SQL as the server's superuser with the append-only triggers off. */
  attack(sql: string, values?: unknown[]): Promise<void>;
}

const databases: TestDatabase[] = [];
const dirs: string[] = [];

/** A chain of 5 events, a checkpoint (its event is seq 6), 6 more events, a second checkpoint of head 12 (its event seq 13). */
async function setup(): Promise<Setup> {
  const tdb = await createTestDatabase();
  databases.push(tdb);
  const dataDir = mkdtempSync(join(tmpdir(), 'cp-audit-anchor-'));
  dirs.push(dataDir);
  await initPki({ dir: join(dataDir, 'pki'), trustDomain: TRUST_DOMAIN });
  const tls = loadTlsMaterial(servicePkiFiles(join(dataDir, 'pki'), 'jobforge'));
  const checkpoints = join(dataDir, 'audit-checkpoints');
  const db = createPostgresDatabase({ connectionString: tdb.url, maxConnections: 2, unscoped: 'system', applicationName: 'anchor-seed' });
  try {
    await migrate(db);
    const audit = new AuditLog(db);
    const checkpointer = new AuditCheckpointer({
      db,
      audit,
      dir: checkpoints,
      service: 'jobforge',
      signer: { keyPem: tls.key, certPem: tls.cert, trustDomain: TRUST_DOMAIN },
      intervalMs: 3_600_000,
      logger: createLogger({ service: 'test', level: 'silent' }),
    });
    const event = (i: number) =>
      audit.record({ tenantId: null, actor: { kind: 'system', id: 'seed' }, action: 'test.event', outcome: 'success', details: { i } });
    for (let i = 1; i <= 5; i++) await event(i);
    expect(await checkpointer.checkpoint()).toBe('checkpoint-00000000000000000005-jobforge.json');
    // Nothing but its own event since: no second checkpoint of the same head.
    expect(await checkpointer.checkpoint()).toBeUndefined();
    for (let i = 6; i <= 11; i++) await event(i);
    await checkpointer.close(); // the shutdown checkpoint: head seq 12 (past 9, so seq sorts as a number), its event seq 13
  } finally {
    await db.close();
  }
  const env = { CONTROLPLANE_DATA_DIR: dataDir, CONTROLPLANE_TRUST_DOMAIN: TRUST_DOMAIN };
  return {
    tdb,
    dataDir,
    checkpoints,
    verify: (...extra) => run(['audit', 'verify', '--database-url', tdb.url, ...extra], env),
    async attack(sql, values) {
      const admin = createPostgresDatabase({
        connectionString: tdb.adminUrl,
        maxConnections: 1,
        unscoped: 'system',
        applicationName: 'attacker',
      });
      try {
        await admin.query('alter table audit_events disable trigger user');
        await admin.query(sql, values);
        await admin.query('alter table audit_events enable trigger user');
      } finally {
        await admin.close();
      }
    },
  };
}

describe('audit verify against the signed checkpoints', () => {
  afterAll(async () => {
    for (const d of databases) await d.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('an untouched chain verifies, anchored by the checkpoints written at an interval and on shutdown', async () => {
    const s = await setup();
    expect(readdirSync(s.checkpoints).sort()).toEqual([
      'checkpoint-00000000000000000005-jobforge.json',
      'checkpoint-00000000000000000012-jobforge.json',
    ]);
    const res = await s.verify();
    expect(res.code, res.stdout + res.stderr).toBe(EXIT.OK);
    expect(res.stdout).toContain('audit chain intact: 13 events verified');
    expect(res.stdout).toContain('anchored by 2 signed checkpoints');
    const json = JSON.parse((await s.verify('--json')).stdout) as Record<string, unknown>;
    expect(json).toMatchObject({ ok: true, count: 13, checkpoints: { count: 2, newest: { seq: '12' } } });
  });

  it('the newest rows deleted: missing_seq at the newest checkpoint', async () => {
    const s = await setup();
    await s.attack('delete from audit_events where seq >= 11');
    const res = await s.verify();
    expect(res.code).toBe(EXIT.FAILURE);
    expect(res.stdout).toContain('audit chain BROKEN at seq 12: missing_seq');
    expect(res.stdout).toMatch(/actual: +10/);
  });

  it('the chain rewritten from the start, every hash recomputed: the chain alone passes, the checkpoints do not', async () => {
    const s = await setup();
    const records: AuditRecord[] = [];
    const reader = createPostgresDatabase({
      connectionString: s.tdb.url,
      maxConnections: 1,
      unscoped: 'system',
      applicationName: 'reader',
    });
    try {
      await verifyAuditChain(reader, { onRecord: (r) => records.push(r) });
    } finally {
      await reader.close();
    }
    records[1] = { ...records[1]!, details: { i: 2, forged: true } };
    for (let i = 1; i < records.length; i++) {
      const { hash: _old, ...rest } = { ...records[i]!, prevHash: records[i - 1]!.hash };
      records[i] = { ...rest, hash: computeAuditHash(rest) };
    }
    for (const r of records.slice(1)) {
      await s.attack('update audit_events set details = $1, prev_hash = $2, hash = $3 where seq = $4', [
        JSON.stringify(r.details),
        r.prevHash,
        r.hash,
        r.seq,
      ]);
    }
    expect((await s.verify('--no-checkpoints')).code).toBe(EXIT.OK);
    const res = await s.verify();
    expect(res.code).toBe(EXIT.FAILURE);
    expect(res.stdout).toContain('audit chain BROKEN at seq 5: hash_mismatch');
  });

  it('a checkpoint forged to match a cut chain, or signed under a foreign CA: checkpoint_forged', async () => {
    const s = await setup();
    await s.attack('delete from audit_events where seq >= 11');
    // The attacker rewrites the newest checkpoint to the new head; the signature no longer holds.
    const newest = join(s.checkpoints, 'checkpoint-00000000000000000012-jobforge.json');
    const cp = JSON.parse(readFileSync(newest, 'utf8')) as Record<string, string>;
    const head = (await s.verify('--no-checkpoints', '--json')).stdout;
    const { headSeq, headHash } = JSON.parse(head) as { headSeq: string; headHash: string };
    rmSync(newest);
    writeFileSync(
      join(s.checkpoints, 'checkpoint-00000000000000000010-jobforge.json'),
      JSON.stringify({ ...cp, seq: headSeq, hash: headHash }),
    );
    const res = await s.verify();
    expect(res.code).toBe(EXIT.FAILURE);
    expect(res.stdout).toContain('audit chain BROKEN at seq 10: checkpoint_forged');
    expect(res.stdout).toContain('the signature does not match its content');

    // Properly signed, but by a service of a CA of the attacker's own.
    const foreign = mkdtempSync(join(tmpdir(), 'cp-audit-foreign-'));
    dirs.push(foreign);
    await initPki({ dir: foreign, trustDomain: TRUST_DOMAIN });
    const theirs = loadTlsMaterial(servicePkiFiles(foreign, 'jobforge'));
    const signed = signCheckpoint(
      { seq: headSeq, hash: headHash },
      { keyPem: theirs.key, certPem: theirs.cert, trustDomain: TRUST_DOMAIN },
    );
    writeFileSync(join(s.checkpoints, 'checkpoint-00000000000000000010-jobforge.json'), JSON.stringify(signed));
    const again = await s.verify();
    expect(again.code).toBe(EXIT.FAILURE);
    expect(again.stdout).toContain('checkpoint_forged');
    expect(again.stdout).toContain('not issued by the CA');
  });

  it('a checkpoint file deleted: checkpoint_missing at the event that recorded it; the directory deleted: checkpoints_absent', async () => {
    const s = await setup();
    rmSync(join(s.checkpoints, 'checkpoint-00000000000000000012-jobforge.json'));
    const res = await s.verify();
    expect(res.code).toBe(EXIT.FAILURE);
    expect(res.stdout).toContain('audit chain BROKEN at seq 13: checkpoint_missing');
    expect(res.stdout).toContain('checkpoint-00000000000000000012-jobforge.json');

    rmSync(s.checkpoints, { recursive: true, force: true });
    const gone = await s.verify();
    expect(gone.code).toBe(EXIT.FAILURE);
    expect(gone.stdout).toContain('checkpoints_absent');
    expect(gone.stdout).toContain('the checkpoint directory is gone');
  });
});
