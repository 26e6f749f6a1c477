// The audit chain on the embedded database (PGlite): the same guards and the same verification.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditLog,
  createPgliteDatabase,
  exportAudit,
  migrate,
  queryAudit,
  verifyAuditChain,
  type AuditEvent,
  type Database,
} from '@controlplane/server';

function event(i: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    tenantId: i % 2 === 0 ? 'acme' : null,
    actor: { kind: 'apikey', id: `key-${i}` },
    action: 'job.submitted',
    outcome: 'success',
    correlationId: `corr-${i}`,
    details: { i, token: 'never stored' },
    ...overrides,
  };
}

describe('audit chain on PGlite', () => {
  let db: Database;
  let log: AuditLog;

  beforeAll(async () => {
    db = await createPgliteDatabase();
    await migrate(db);
    log = new AuditLog(db);
  });

  afterAll(async () => {
    await db?.close();
  });

  it('appends concurrently into one gapless chain, and a rolled-back append leaves no gap', async () => {
    await Promise.all(Array.from({ length: 60 }, (_, i) => log.record(event(i))));
    await expect(
      db.transaction(async (tx) => {
        await log.append(tx, event(100));
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const next = await log.record(event(61));
    expect(next.seq).toBe('61');
    const { rows } = await db.query<{ n: number; max: string }>('select count(*)::int as n, max(seq) as max from audit_events');
    expect(rows[0]).toEqual({ n: 61, max: '61' });
    expect(await verifyAuditChain(db, { batchSize: 8 })).toEqual({ ok: true, count: 61, headSeq: '61', headHash: next.hash });
    const stored = await db.query<{ details: unknown }>('select details from audit_events where seq = 61');
    expect(stored.rows[0]?.details).toEqual({ i: 61, token: '[REDACTED]' });
  });

  it.each([
    ['UPDATE', `update audit_events set outcome = 'denied' where seq = 1`],
    ['DELETE', 'delete from audit_events where seq = 61'],
    ['TRUNCATE', 'truncate audit_events'],
  ])('refuses %s', async (op, sql) => {
    await expect(db.query(sql)).rejects.toMatchObject({ code: '42501', message: `audit_events is append-only: ${op} is refused` });
    expect((await db.query<{ n: number }>('select count(*)::int as n from audit_events')).rows[0]?.n).toBe(61);
  });

  it('queries and exports like PostgreSQL', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof queryAudit>> = await queryAudit(db, { tenantId: 'acme', limit: 7, cursor });
      expect(page.events.every((e) => e.tenantId === 'acme')).toBe(true);
      seen.push(...page.events.map((e) => Number(e.seq)));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(30);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    expect(await exportAudit(db, out, { tenantId: null })).toMatchObject({ count: 31, lastSeq: '61' });
    expect(
      text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).tenantId),
    ).toEqual(Array(31).fill(null));
  });

  it('detects rows edited or deleted with the trigger disabled', async () => {
    await db.query('alter table audit_events disable trigger user');
    try {
      await db.query(`update audit_events set details = details || '{"i": -1}'::jsonb where seq = 17`);
      expect(await verifyAuditChain(db, { batchSize: 5 })).toMatchObject({
        ok: false,
        count: 16,
        firstBad: { seq: '17', reason: 'hash_mismatch' },
      });
      await db.query('delete from audit_events where seq between 10 and 11');
      expect(await verifyAuditChain(db, { batchSize: 5 })).toEqual({
        ok: false,
        count: 9,
        firstBad: { seq: '10', reason: 'missing_seq', expected: '10', actual: '12' },
      });
    } finally {
      await db.query('alter table audit_events enable trigger user');
    }
  });
});

describe('audit chain in a persistent PGlite directory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cp-audit-pglite-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('verifies after the database is closed and reopened', async () => {
    const first = await createPgliteDatabase({ dataDir: dir });
    let head: string;
    try {
      await migrate(first);
      const log = new AuditLog(first);
      for (let i = 1; i <= 5; i++) await log.record(event(i, { details: { i, nested: { z: 1, a: [1, { y: 2, b: 3 }] } } }));
      const result = await verifyAuditChain(first);
      if (!result.ok) throw new Error('chain broken before reopening');
      head = result.headHash;
    } finally {
      await first.close();
    }
    const second = await createPgliteDatabase({ dataDir: dir });
    try {
      expect(await verifyAuditChain(second)).toEqual({ ok: true, count: 5, headSeq: '5', headHash: head });
      const next = await new AuditLog(second).record(event(6));
      expect(next).toMatchObject({ seq: '6', prevHash: head });
    } finally {
      await second.close();
    }
  });
});
