// The audit chain against real PostgreSQL: database guards, tampering by a superuser who switches
// the guards off, concurrent appends, queries and export. Appends from several processes at once are
// in audit-chain-processes.e2e.test.ts.
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isInternalError } from '@controlplane/contracts';
import {
  AUDIT_GENESIS_HASH,
  AuditChainVerifier,
  AuditLog,
  computeAuditHash,
  createPostgresDatabase,
  exportAudit,
  migrate,
  queryAudit,
  verifyAuditChain,
  type AuditEvent,
  type AuditReader,
  type AuditRecord,
  type Database,
} from '@controlplane/server';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';

let testDb: TestDatabase;
let db: Database;
let log: AuditLog;
/** A superuser session of its own, for the attacks. */
let admin: pg.Client;

beforeAll(async () => {
  testDb = await createTestDatabase();
  admin = new pg.Client({ connectionString: testDb.adminUrl, application_name: 'audit-attacker' });
  await admin.connect();
  // A zone with a 12:45 offset: nothing hashed may depend on the session time zone.
  await admin.query(`alter database "${testDb.name}" set timezone to 'Pacific/Chatham'`);
  db = createPostgresDatabase({ unscoped: 'system', connectionString: testDb.url, maxConnections: 8, applicationName: 'audit-chain-test' });
  await migrate(db);
  log = new AuditLog(db);
});

afterAll(async () => {
  await admin?.end();
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

/** Empties the log behind the guards' back, then appends `length` events through AuditLog. */
async function freshChain(length: number): Promise<AuditRecord[]> {
  await admin.query('set session_replication_role = replica; truncate audit_events; reset session_replication_role');
  const records: AuditRecord[] = [];
  for (let i = 1; i <= length; i++) records.push(await log.record(event(i)));
  return records;
}

/** Runs SQL as a superuser with the append-only trigger disabled, the way an attacker with that power would. */
async function tamper(sql: string, values: unknown[] = [], how: 'disable trigger' | 'replica role' = 'disable trigger'): Promise<number> {
  if (how === 'replica role') {
    await admin.query('set session_replication_role = replica');
    try {
      return (await admin.query(sql, values)).rowCount ?? 0;
    } finally {
      await admin.query('reset session_replication_role');
    }
  }
  await admin.query('alter table audit_events disable trigger user');
  try {
    return (await admin.query(sql, values)).rowCount ?? 0;
  } finally {
    await admin.query('alter table audit_events enable trigger user');
  }
}

async function storedCount(): Promise<number> {
  return (await db.query<{ n: number }>('select count(*)::int as n from audit_events')).rows[0]?.n ?? -1;
}

describe('audit_events is append-only in the database', () => {
  beforeEach(async () => {
    await freshChain(3);
  });

  it.each([
    ['UPDATE', 'update audit_events set details = $1::jsonb where seq = 2', [JSON.stringify({ i: 99 })]],
    ['UPDATE', 'update audit_events set outcome = outcome where false', []],
    ['DELETE', 'delete from audit_events where seq = 3', []],
    ['DELETE', 'delete from audit_events', []],
    ['TRUNCATE', 'truncate audit_events', []],
  ])('refuses %s through the service connection (%s)', async (op, sql, values) => {
    await expect(db.query(sql, values)).rejects.toMatchObject({ code: '42501', message: `audit_events is append-only: ${op} is refused` });
    expect(await storedCount()).toBe(3);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, count: 3 });
  });

  it('refuses them inside a transaction too, and the transaction rolls back', async () => {
    const attempt = db.transaction(async (tx) => {
      await log.append(tx, event(4));
      await tx.query('delete from audit_events where seq = 1');
    });
    await expect(attempt).rejects.toMatchObject({ code: '42501' });
    expect(await storedCount()).toBe(3);
  });

  it('grants PUBLIC nothing that changes rows', async () => {
    const { rows } = await db.query<{ update: boolean; delete: boolean; truncate: boolean }>(
      `select has_table_privilege('public', 'audit_events', 'UPDATE') as update,
              has_table_privilege('public', 'audit_events', 'DELETE') as delete,
              has_table_privilege('public', 'audit_events', 'TRUNCATE') as truncate`,
    );
    expect(rows).toEqual([{ update: false, delete: false, truncate: false }]);
  });

  it('leaves a least-privileged service role no way to change rows or switch the guard off', async () => {
    // Roles are cluster-wide, so this one is unique to the run and dropped at the end.
    const role = `cp_audit_app_${randomBytes(4).toString('hex')}`;
    await admin.query(`create role ${role} login`);
    const url = new URL(testDb.url);
    url.username = role;
    const app = createPostgresDatabase({
      unscoped: 'system',
      connectionString: url.toString(),
      maxConnections: 2,
      applicationName: 'audit-app-role',
    });
    try {
      await admin.query(`grant usage on schema public to ${role}; grant select, insert on audit_events to ${role}`);
      const appended = await new AuditLog(app).record(event(4));
      expect(appended.seq).toBe('4');
      await expect(app.query('update audit_events set outcome = $1', ['denied'])).rejects.toMatchObject({
        code: '42501',
        message: expect.stringContaining('permission denied'),
      });
      await expect(app.query('delete from audit_events')).rejects.toMatchObject({ code: '42501' });
      await expect(app.query('truncate audit_events')).rejects.toMatchObject({ code: '42501' });
      await expect(app.query('alter table audit_events disable trigger user')).rejects.toMatchObject({
        code: '42501',
        message: expect.stringContaining('owner'),
      });
      await expect(app.query('set session_replication_role = replica')).rejects.toMatchObject({ code: '42501' });
      await expect(app.query('drop trigger audit_events_append_only on audit_events')).rejects.toMatchObject({ code: '42501' });
      expect(await verifyAuditChain(db)).toMatchObject({ ok: true, count: 4 });
    } finally {
      await app.close();
      await admin.query(`drop owned by ${role}; drop role ${role}`);
    }
  });
});

describe('tampering with the guards switched off is detected', () => {
  // Batches of 2 put the damaged rows at batch boundaries as well as inside batches.
  const verify = (options = {}) => verifyAuditChain(db, { batchSize: 2, ...options });

  it('an edited column of any kind: hash_mismatch at that seq', async () => {
    const edits: Array<[string, string]> = [
      ['details', `details = '{"i": 99}'::jsonb`],
      ['details key added', `details = details || '{"extra": true}'::jsonb`],
      ['occurred_at by one microsecond', `occurred_at = occurred_at + interval '1 microsecond'`],
      ['occurred_at by one hour', `occurred_at = occurred_at - interval '1 hour'`],
      ['tenant_id', `tenant_id = 'evil'`],
      ['actor_id', `actor_id = 'someone-else'`],
      ['action', `action = 'job.viewed'`],
      ['outcome', `outcome = 'denied'`],
      ['resource_id', `resource_id = 'job-x'`],
      ['correlation_id', 'correlation_id = null'],
      ['source_address', `source_address = '198.51.100.1'`],
      ['id', `id = '00000000-0000-4000-8000-000000000000'`],
      ['prev_hash', `prev_hash = repeat('a', 64)`],
      ['hash', `hash = repeat('b', 64)`],
    ];
    for (const [label, assignment] of edits) {
      const chain = await freshChain(5);
      expect(
        await tamper(
          `update audit_events set ${assignment} where seq = 3`,
          [],
          label.startsWith('occurred') ? 'replica role' : 'disable trigger',
        ),
      ).toBe(1);
      const result = await verify();
      expect(result, label).toMatchObject({ ok: false, count: 2, firstBad: { seq: '3', reason: 'hash_mismatch' } });
      if (!result.ok && label !== 'hash') expect(result.firstBad.actual, label).toBe(chain[2]?.hash);
    }
  });

  it('a deleted row: missing_seq at its seq', async () => {
    await freshChain(6);
    expect(await tamper('delete from audit_events where seq = 4')).toBe(1);
    expect(await verify()).toEqual({ ok: false, count: 3, firstBad: { seq: '4', reason: 'missing_seq', expected: '4', actual: '5' } });
  });

  it('a deleted first row: missing_seq at 1', async () => {
    await freshChain(3);
    await tamper('delete from audit_events where seq = 1', [], 'replica role');
    expect(await verify()).toEqual({ ok: false, count: 0, firstBad: { seq: '1', reason: 'missing_seq', expected: '1', actual: '2' } });
  });

  it('a deleted row with the rest renumbered to close the gap: out_of_order at the first moved row', async () => {
    await freshChain(6);
    await tamper('delete from audit_events where seq = 4; update audit_events set seq = seq - 1 where seq > 4');
    expect(await verify()).toEqual({ ok: false, count: 3, firstBad: { seq: '4', reason: 'out_of_order', expected: '4', actual: '5' } });
  });

  it('a row moved far beyond the head: missing_seq at once, without walking the gap', async () => {
    await freshChain(6);
    await tamper('update audit_events set seq = 900000000000000 where seq = 5');
    expect(await verify()).toEqual({ ok: false, count: 4, firstBad: { seq: '5', reason: 'missing_seq', expected: '5', actual: '6' } });
    await tamper('update audit_events set seq = 800000000000000 where seq = 6');
    expect(await verify()).toEqual({
      ok: false,
      count: 4,
      firstBad: { seq: '5', reason: 'missing_seq', expected: '5', actual: '800000000000000' },
    });
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    expect(await exportAudit(db, out, { batchSize: 2 })).toEqual({ count: 6, firstSeq: '1', lastSeq: '900000000000000' });
    expect(
      text
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as AuditRecord).seq),
    ).toEqual(['1', '2', '3', '4', '800000000000000', '900000000000000']);
  });

  it('the newest rows deleted: invisible to the chain, caught by an anchor kept elsewhere', async () => {
    const chain = await freshChain(6);
    await tamper('delete from audit_events where seq > 4');
    expect(await verify()).toMatchObject({ ok: true, count: 4, headSeq: '4' });
    expect(await verify({ expectHead: { seq: '6', hash: chain[5]!.hash } })).toEqual({
      ok: false,
      count: 4,
      firstBad: { seq: '6', reason: 'missing_seq', expected: '6', actual: '4' },
    });
  });

  it('the contents of two rows swapped: hash_mismatch at the first of them', async () => {
    const chain = await freshChain(6);
    await tamper(`
      update audit_events a set tenant_id = b.tenant_id, actor_id = b.actor_id, action = b.action, resource_id = b.resource_id,
                                correlation_id = b.correlation_id, details = b.details, occurred_at = b.occurred_at
        from (select seq, tenant_id, actor_id, action, resource_id, correlation_id, details, occurred_at from audit_events) b
       where (a.seq, b.seq) in ((3, 4), (4, 3))`);
    expect(await verify()).toEqual({
      ok: false,
      count: 2,
      firstBad: { seq: '3', reason: 'hash_mismatch', expected: expect.any(String), actual: chain[2]!.hash },
    });
  });

  it('two whole rows swapped (reordered): out_of_order at the first of them', async () => {
    await freshChain(6);
    // Through a free seq, so that the primary key holds at every step.
    await tamper(
      'update audit_events set seq = 1000 where seq = 3; update audit_events set seq = 3 where seq = 4; update audit_events set seq = 4 where seq = 1000',
      [],
      'replica role',
    );
    expect(await verify()).toEqual({ ok: false, count: 2, firstBad: { seq: '3', reason: 'out_of_order', expected: '3', actual: '4' } });
  });

  it('an edited row whose own hash was recomputed: the next row no longer links, prev_hash_mismatch there', async () => {
    const chain = await freshChain(6);
    const original = chain[2]!;
    const { hash: _old, ...rest } = original;
    const forged = { ...rest, outcome: 'denied', details: { i: 3, forged: true } };
    const forgedHash = computeAuditHash(forged);
    await tamper(`update audit_events set outcome = 'denied', details = $1::jsonb, hash = $2 where seq = 3`, [
      JSON.stringify(forged.details),
      forgedHash,
    ]);
    expect(await verify()).toEqual({
      ok: false,
      count: 3,
      firstBad: { seq: '4', reason: 'prev_hash_mismatch', expected: forgedHash, actual: original.hash },
    });
  });

  it('a chain rewritten consistently from seq 1: only an anchor from an earlier run exposes it', async () => {
    const chain = await freshChain(4);
    const anchor = { seq: '4', hash: chain[3]!.hash };
    let prevHash = AUDIT_GENESIS_HASH;
    for (const record of chain) {
      const { hash: _old, ...rest } = record;
      const forged = { ...rest, actor: { kind: 'system', id: 'nobody' }, prevHash };
      const hash = computeAuditHash(forged);
      await tamper(`update audit_events set actor_kind = 'system', actor_id = 'nobody', prev_hash = $1, hash = $2 where seq = $3`, [
        prevHash,
        hash,
        record.seq,
      ]);
      prevHash = hash;
    }
    expect(await verify()).toMatchObject({ ok: true, count: 4 });
    expect(await verify({ expectHead: anchor })).toEqual({
      ok: false,
      count: 3,
      firstBad: { seq: '4', reason: 'hash_mismatch', expected: anchor.hash, actual: prevHash },
    });
  });

  it('verifies incrementally from a head an earlier run reported', async () => {
    const chain = await freshChain(6);
    const first = await verify();
    expect(first).toEqual({ ok: true, count: 6, headSeq: '6', headHash: chain[5]!.hash });
    for (let i = 7; i <= 9; i++) await log.record(event(i));
    expect(await verify({ fromSeq: '7', prevHash: chain[5]!.hash })).toMatchObject({ ok: true, count: 3, headSeq: '9' });
    await tamper(`update audit_events set details = '{}'::jsonb where seq = 8`);
    expect(await verify({ fromSeq: 7 })).toMatchObject({ ok: false, count: 1, firstBad: { seq: '8', reason: 'hash_mismatch' } });
  });
});

describe('appending', () => {
  it('returns what it stored, and nothing about the stored form changes the hash', async () => {
    await freshChain(0);
    const details = {
      zeta: 1,
      alpha: { nested: [3, 2, 1], 'key with spaces': 'v', 'ünïcödé 🔐': '✓' },
      numbers: [0.1, 1e21, 5e-324, -0, 2 ** 60, 123.456, -1.5e-7],
      empty: {},
      list: [],
      flag: false,
      nothing: null,
    };
    const record = await log.record({
      tenantId: 'acme',
      actor: { kind: 'runner', id: 'runner-1' },
      action: 'job.completed',
      outcome: 'failure',
      details,
    });
    expect(record).toMatchObject({
      seq: '1',
      prevHash: AUDIT_GENESIS_HASH,
      tenantId: 'acme',
      resource: null,
      correlationId: null,
      sourceAddress: null,
    });
    expect(record.occurredAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(record.hash).toBe(computeAuditHash(record));

    const { events } = await queryAudit(db, {});
    expect(events).toEqual([{ ...record, details: JSON.parse(JSON.stringify(record.details)) }]);
    expect(computeAuditHash(events[0]!)).toBe(record.hash);
    expect(await verifyAuditChain(db)).toEqual({ ok: true, count: 1, headSeq: '1', headHash: record.hash });
  });

  it('appends events recorded together as consecutive links under one lock, one transaction per group', async () => {
    await freshChain(1);
    const records = await Promise.all(Array.from({ length: 450 }, (_, i) => log.record(event(i + 2))));
    // Every caller gets its own link, in one gapless run after the head.
    expect(records.map((r) => Number(r.seq)).sort((a, b) => a - b)).toEqual(Array.from({ length: 450 }, (_, i) => i + 2));
    // Rows written by one transaction share its xmin: 450 events, a handful of transactions.
    const { rows } = await db.query<{ n: number }>(`select count(distinct xmin::text)::int as n from audit_events where seq > 1`);
    expect(rows[0]!.n).toBeLessThanOrEqual(10);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, count: 451 });
    // A bad event fails alone, before it joins a group.
    const bad = log.record({ ...event(9), action: 'not a verb' });
    const good = log.record(event(10));
    await expect(bad).rejects.toMatchObject({ code: 'CP_AUDIT_EVENT_INVALID' });
    await expect(good).resolves.toMatchObject({ seq: '452' });
  });

  it("commits with the caller's transaction or not at all, leaving no gap in seq", async () => {
    await freshChain(2);
    const failure = new Error('the audited change failed');
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`insert into tenants (id, name) values ('rolled-back', 'Rolled back')`);
        await log.append(tx, event(3, { action: 'tenant.created' }));
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect((await db.query(`select id from tenants where id = 'rolled-back'`)).rowCount).toBe(0);
    expect(await storedCount()).toBe(2);

    const committed = await db.transaction(async (tx) => {
      await tx.query(`insert into tenants (id, name) values ('committed', 'Committed')`);
      return log.append(tx, event(3, { action: 'tenant.created', resource: { kind: 'tenant', id: 'committed' } }));
    });
    expect(committed.seq).toBe('3');
    expect((await db.query(`select id from tenants where id = 'committed'`)).rowCount).toBe(1);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, count: 3 });
  });

  it('refuses to fork the chain from a stale snapshot (REPEATABLE READ)', async () => {
    await freshChain(1);
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let snapshotTaken!: () => void;
    const taken = new Promise<void>((resolve) => (snapshotTaken = resolve));
    const stale = db.transaction(
      async (tx) => {
        await tx.query('select count(*) from audit_events');
        snapshotTaken();
        await released;
        return log.append(tx, event(3));
      },
      { isolation: 'repeatable read' },
    );
    await taken;
    await log.record(event(2));
    release();
    await expect(stale).rejects.toMatchObject({ name: 'InternalError', code: 'CP_AUDIT_CHAIN_CONFLICT' });
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, count: 2 });
  });

  it('refuses malformed events before touching the database', async () => {
    await freshChain(1);
    const bad: Array<[string, AuditEvent]> = [
      ['outcome', { ...event(1), outcome: 'ok' as AuditEvent['outcome'] }],
      ['actor kind', { ...event(1), actor: { kind: 'root' as AuditEvent['actor']['kind'], id: 'x' } }],
      ['action', { ...event(1), action: 'drop table; --' }],
      ['action', { ...event(1), action: '' }],
      ['resource', { ...event(1), resource: { kind: 'job', id: 42 as unknown as string } }],
    ];
    for (const [label, e] of bad) {
      await expect(log.record(e), label).rejects.toSatisfy((err) => isInternalError(err, 'CP_AUDIT_EVENT_INVALID'));
    }
    expect(await storedCount()).toBe(1);
  });

  it('redacts details before they are hashed and stored', async () => {
    await freshChain(0);
    await log.record(
      event(1, {
        details: {
          apiKeyId: 'key_1',
          headers: { authorization: 'Bearer live-credential' },
          joinToken: 'jt_live',
          payload: { ssn: '078-05-1120' },
          note: 'fine',
        },
      }),
    );
    const { rows } = await db.query<{ details: unknown; raw: string }>('select details, details::text as raw from audit_events');
    expect(rows[0]?.details).toEqual({
      apiKeyId: 'key_1',
      headers: { authorization: '[REDACTED]' },
      joinToken: '[REDACTED]',
      payload: '[REDACTED]',
      note: 'fine',
    });
    expect(rows[0]?.raw).not.toMatch(/live-credential|jt_live|078-05-1120/);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, count: 1 });
  });
});

describe('queryAudit and exportAudit', () => {
  let records: AuditRecord[];
  beforeAll(async () => {
    records = await freshChain(12);
  });

  it('pages through everything newest first without repeats or gaps', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof queryAudit>> = await queryAudit(db, { limit: 5, cursor });
      seen.push(...page.events.map((e) => e.seq));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(records.map((r) => r.seq).reverse());
  });

  it('filters by tenant, platform-level, action, actor, outcome and correlation id', async () => {
    const seqs = async (q: Parameters<typeof queryAudit>[1]) => (await queryAudit(db, q)).events.map((e) => Number(e.seq));
    expect(await seqs({ tenantId: 'acme' })).toEqual([10, 7, 4, 1]);
    expect(await seqs({ tenantId: null })).toEqual([12, 9, 6, 3]);
    expect(await seqs({ tenantId: 'acme', action: 'job.submitted' })).toEqual([10, 4]);
    expect(await seqs({ actorId: 'key-1', tenantId: 'globex' })).toEqual([11, 5]);
    expect(await seqs({ correlationId: 'corr-7' })).toEqual([7]);
    expect(await seqs({ outcome: 'denied' })).toEqual([]);
    expect(await seqs({ tenantId: "acme' or '1'='1" })).toEqual([]);
  });

  it('plugs into the gateway as its AuditReader', async () => {
    const reader: AuditReader = { query: (filter) => queryAudit(db, filter) };
    const first = await reader.query({ tenantId: 'acme', limit: 3 });
    expect(first.events.map((e) => (e as AuditRecord).seq)).toEqual(['10', '7', '4']);
    const second = await reader.query({ tenantId: 'acme', limit: 3, cursor: first.nextCursor ?? undefined });
    expect(second).toEqual({ events: [records[0]], nextCursor: null });
  });

  it('filters by time, strictly after and before', async () => {
    const [r4, r9] = [records[3]!, records[8]!];
    const seqs = (await queryAudit(db, { after: r4.occurredAt, before: new Date(r9.occurredAt) })).events.map((e) => Number(e.seq));
    // Several events can share a millisecond; every returned one lies strictly inside the window.
    for (const s of seqs) {
      const at = records[s - 1]!.occurredAt;
      expect(at > r4.occurredAt && at < r9.occurredAt).toBe(true);
    }
    const inside = records
      .filter((r) => r.occurredAt > r4.occurredAt && r.occurredAt < r9.occurredAt)
      .map((r) => Number(r.seq))
      .reverse();
    expect(seqs).toEqual(inside);
  });

  it('exports JSON Lines in chain order that verify offline', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const result = await exportAudit(db, out, { batchSize: 5 });
    expect(result).toEqual({ count: 12, firstSeq: '1', lastSeq: '12' });
    const lines = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditRecord);
    expect(lines).toEqual(records);
    const verifier = new AuditChainVerifier();
    for (const line of lines) expect(verifier.push(line)).toBeUndefined();
    expect(verifier.finish()).toMatchObject({ ok: true, count: 12, headHash: records[11]!.hash });
  });

  it('exports one tenant since an instant', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const since = records[4]!.occurredAt;
    await exportAudit(db, out, { tenantId: 'globex', since });
    const seqs = text
      .trimEnd()
      .split('\n')
      .map((l) => Number((JSON.parse(l) as AuditRecord).seq));
    expect(seqs).toEqual(records.filter((r) => r.tenantId === 'globex' && r.occurredAt >= since).map((r) => Number(r.seq)));
    expect(seqs).toContain(11);
  });
});
