// Appends to one audit chain from two processes and this one at once, on real PostgreSQL: the chain
// stays gapless and verifies. The processes run the built server (npm run build, or npx tsc -b
// packages/server); the rest of the chain's tests are in audit-chain.pg.test.ts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, createPostgresDatabase, migrate, verifyAuditChain, type AuditEvent, type Database } from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';

let testDb: TestDatabase;
let db: Database;
let log: AuditLog;

beforeAll(async () => {
  testDb = await createTestDatabase();
  const admin = new pg.Client({ connectionString: testDb.adminUrl, application_name: 'audit-processes-setup' });
  await admin.connect();
  try {
    // A zone with a 12:45 offset, for every process's sessions: nothing hashed may depend on it.
    await admin.query(`alter database "${testDb.name}" set timezone to 'Pacific/Chatham'`);
  } finally {
    await admin.end();
  }
  db = createPostgresDatabase({ unscoped: 'system', connectionString: testDb.url, maxConnections: 8, applicationName: 'audit-chain-test' });
  await migrate(db);
  log = new AuditLog(db);
});

afterAll(async () => {
  await db?.close();
  await testDb?.drop();
});

function event(i: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    tenantId: i % 3 === 0 ? null : i % 3 === 1 ? 'acme' : 'globex',
    actor: { kind: 'apikey', id: `key-${i % 2}` },
    action: i % 2 === 0 ? 'job.submitted' : 'job.cancelled',
    resource: { kind: 'job', id: `job-${i}` },
    outcome: 'success',
    correlationId: `corr-${i}`,
    sourceAddress: '203.0.113.7',
    details: { i },
    ...overrides,
  };
}

describe('appending from several processes', () => {
  it('keeps one gapless chain under concurrent appends from two processes and this one', async () => {
    const entry = fileURLToPath(new URL('./fixtures/audit-append.mjs', import.meta.url));
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    expect(existsSync(dist), 'build the server first: npx tsc -b packages/server').toBe(true);
    const perProcess = 200;

    const children = ['proc-a', 'proc-b'].map((label) => {
      const child = spawn(process.execPath, [entry, testDb.url, label, String(perProcess), '4'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const lines = createInterface({ input: child.stdout });
      const output: string[] = [];
      const ready = new Promise<void>((resolve, reject) => {
        lines.on('line', (line) => {
          output.push(line);
          if (line === 'ready') resolve();
        });
        child.once('exit', (code) => reject(new Error(`${label} exited (${code}) before it was ready: ${stderr}`)));
      });
      const exited = new Promise<{ code: number | null; output: string[]; stderr: string }>((resolve) =>
        child.once('exit', (code) => resolve({ code, output, stderr })),
      );
      return { child, ready, exited };
    });
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.end('go\n');

    // Meanwhile, here: standalone records and appends inside transactions, a quarter of them rolled back.
    const local = Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        log.record(event(i, { actor: { kind: 'service', id: 'in-process' }, details: { label: 'in-process', i } })),
      ),
    );
    const inTransactions = Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        db.transaction(async (tx) => {
          await log.append(
            tx,
            event(i, { actor: { kind: 'service', id: i % 4 === 0 ? 'rolled-back' : 'in-transaction' }, details: { i } }),
          );
          if (i % 4 === 0) throw new Error('roll back');
        }),
      ),
    );
    // A pool passed where a transaction belongs still appends safely, in a transaction of its own.
    const viaPool = Promise.all(
      Array.from({ length: 20 }, (_, i) => log.append(db, event(i, { actor: { kind: 'service', id: 'pool-handle' } }))),
    );
    const [results, settled] = await Promise.all([Promise.all(children.map((c) => c.exited)), inTransactions, local, viaPool]);
    for (const r of results) expect(r, r.stderr).toMatchObject({ code: 0 });
    expect(results.map((r) => JSON.parse(r.output[r.output.length - 1] ?? '{}'))).toEqual([
      { label: 'proc-a', appended: perProcess },
      { label: 'proc-b', appended: perProcess },
    ]);
    expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(10);

    const expected = 2 * perProcess + 100 + 30 + 20;
    const { rows } = await db.query<{ n: number; distinct_seq: number; min: string; max: string }>(
      'select count(*)::int as n, count(distinct seq)::int as distinct_seq, min(seq) as min, max(seq) as max from audit_events',
    );
    expect(rows[0]).toEqual({ n: expected, distinct_seq: expected, min: '1', max: String(expected) });
    const byActor = await db.query<{ actor_id: string; n: number }>(
      'select actor_id, count(*)::int as n from audit_events group by actor_id order by actor_id',
    );
    expect(byActor.rows).toEqual([
      { actor_id: 'in-process', n: 100 },
      { actor_id: 'in-transaction', n: 30 },
      { actor_id: 'pool-handle', n: 20 },
      { actor_id: 'proc-a', n: perProcess },
      { actor_id: 'proc-b', n: perProcess },
    ]);
    // The processes really did overlap: their events alternate along the chain.
    const order = (
      await db.query<{ actor_id: string }>(`select actor_id from audit_events where actor_id like 'proc-%' order by seq`)
    ).rows.map((r) => r.actor_id);
    const switches = order.filter((a, i) => i > 0 && a !== order[i - 1]).length;
    expect(switches).toBeGreaterThan(10);
    expect(await verifyAuditChain(db, { batchSize: 97 })).toMatchObject({ ok: true, count: expected, headSeq: String(expected) });
  });
});
