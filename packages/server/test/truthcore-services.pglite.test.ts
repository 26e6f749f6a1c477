// TruthCore's services on embedded PGlite (what `controlplane dev` runs): the same SQL has to
// work there as on PostgreSQL.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, createLogger } from '@controlplane/platform';
import {
  AssertionService,
  createPgliteDatabase,
  JobResultService,
  migrate,
  parseTrustAnchors,
  TruthStore,
  type Database,
} from '@controlplane/server';
import { delivery, evidencePacket, issueRunner, type RunnerIdentity } from './support/truthcore-fixture.js';

const TRUST_DOMAIN = 'pglite.controlplane.local';
const logger = createLogger({ service: 'test', level: 'silent' });

describe('truthcore services on PGlite', () => {
  let db: Database;
  let assertions: AssertionService;
  let results: JobResultService;
  let runner: RunnerIdentity;

  beforeAll(async () => {
    db = await createPgliteDatabase();
    await migrate(db);
    await db.query(`insert into tenants (id, name) values ('t1', 'one'), ('t2', 'two')`);
    const ca = await createCertificateAuthority({ trustDomain: TRUST_DOMAIN });
    const store = new TruthStore();
    assertions = new AssertionService({ db, store });
    results = new JobResultService({ db, store, assertions, trustDomain: TRUST_DOMAIN, anchors: parseTrustAnchors(ca.certPem), logger });
    runner = await issueRunner(ca, TRUST_DOMAIN, 't1');
  });

  afterAll(async () => {
    await db?.close();
  });

  it('stores, dedupes, pages and isolates assertions', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const a = {
        id: randomUUID(),
        subject: 'd:1',
        predicate: 'p',
        object: i % 2 === 0 ? null : { n: i },
        timestamp: new Date(Date.UTC(2024, 0, 1, 0, i)).toISOString(),
        source: 's',
      };
      expect((await assertions.assert('t1', 'apikey:x', a)).created).toBe(true);
      expect((await assertions.assert('t1', 'apikey:x', a)).created).toBe(false);
      ids.push(a.id);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await assertions.query('t1', { pattern: { subject: 'd:1', predicate: 'p' }, limit: 3, ...(cursor ? { cursor } : {}) });
      expect(page.totalCount).toBe(7);
      seen.push(...page.assertions.map((a) => a.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect((await assertions.query('t1', { pattern: { object: null } })).totalCount).toBe(4);
    expect((await assertions.query('t2', { pattern: { subject: 'd:1' } })).totalCount).toBe(0);
    await expect(assertions.get('t2', ids[0] as string)).rejects.toMatchObject({ code: 'RESOURCE_NOT_FOUND' });
  });

  it('records a signed result once and re-verifies it; refuses a tampered one', async () => {
    const d = delivery(runner, { tenantId: 't1', data: { ok: true }, evidence: evidencePacket(runner.id) });
    expect(await results.record('jobforge', d)).toMatchObject({ duplicate: false, assertions: expect.any(Array) });
    expect(await results.record('jobforge', d)).toMatchObject({ duplicate: true });
    const prov = await results.provenance('t1', d.jobId);
    expect(prov.records).toHaveLength(1);
    expect(prov.records[0]).toMatchObject({
      signatureValid: true,
      evidence: { hashValid: true },
      runner: { id: runner.id, certificate: { trusted: true } },
    });
    const forged = delivery(runner, { tenantId: 't1', data: 1 });
    await expect(results.record('jobforge', { ...forged, result: { ...forged.result, data: 2 } })).rejects.toMatchObject({
      code: 'ENVELOPE_SIGNATURE_INVALID',
    });
    await expect(results.provenance('t1', forged.jobId)).rejects.toMatchObject({ code: 'JOB_NOT_FOUND' });
  });

  it('hands subscriptions their changes in seq order, skipping past non-matching rows', async () => {
    const head = await assertions.head('t1');
    for (const [subject, n] of [
      ['w:1', 1],
      ['w:2', 2],
      ['w:1', 3],
    ] as const) {
      await assertions.assert('t1', 'apikey:x', {
        id: randomUUID(),
        subject,
        predicate: 'v',
        object: n,
        timestamp: new Date().toISOString(),
        source: 's',
      });
    }
    const { rows, next } = await assertions.changesAfter('t1', head, { subject: 'w:1' }, 100);
    expect(rows.map((r) => r.object)).toEqual([1, 3]);
    expect(next).toBe(await assertions.head('t1'));
    expect((await assertions.changesAfter('t1', next, { subject: 'w:1' }, 100)).rows).toEqual([]);
  });
});
