import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '@controlplane/contracts';
import {
  AUDIT_GENESIS_HASH,
  AUDIT_REDACTED,
  AuditChainVerifier,
  computeAuditHash,
  queryAudit,
  redactAuditDetails,
  type AuditRecord,
  type Sql,
} from '@controlplane/server';

function sealed(fields: Omit<AuditRecord, 'hash'>): AuditRecord {
  return { ...fields, hash: computeAuditHash(fields) };
}

/** A valid chain built in memory, the way appendAuditEvent builds it. */
function chainOf(length: number): AuditRecord[] {
  const records: AuditRecord[] = [];
  for (let i = 1; i <= length; i++) {
    records.push(
      sealed({
        seq: String(i),
        id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        occurredAt: new Date(Date.UTC(2024, 4, 1, 12, 0, 0, i)).toISOString(),
        tenantId: i % 2 === 0 ? 'acme' : null,
        actor: { kind: 'apikey', id: `key-${i}` },
        action: 'job.submitted',
        resource: { kind: 'job', id: `job-${i}` },
        outcome: 'success',
        correlationId: `corr-${i}`,
        sourceAddress: '203.0.113.7',
        details: { attempt: i },
        prevHash: records[i - 2]?.hash ?? AUDIT_GENESIS_HASH,
      }),
    );
  }
  return records;
}

function verify(records: AuditRecord[], options: ConstructorParameters<typeof AuditChainVerifier>[0] = {}) {
  const verifier = new AuditChainVerifier(options);
  for (const r of records) if (verifier.push(r)) break;
  return verifier.finish();
}

describe('audit hash format', () => {
  it('is SHA-256 over the canonical JSON of the documented fields (a test vector for independent verifiers)', () => {
    const record = {
      seq: '1',
      id: '6f1c2a9e-3b7d-4c1e-9f0a-2b3c4d5e6f70',
      occurredAt: '2024-05-01T12:00:00.123Z',
      tenantId: 'acme',
      actor: { kind: 'apikey', id: 'key-1' },
      action: 'job.submitted',
      resource: { kind: 'job', id: 'job-1' },
      outcome: 'success',
      correlationId: 'corr-1',
      sourceAddress: '203.0.113.7',
      details: { z: 1, a: { y: true, b: null }, list: ['x', 2] },
      prevHash: AUDIT_GENESIS_HASH,
    };
    // Keys sorted, no whitespace, nulls kept; written out literally so the format cannot drift unnoticed.
    const canonical =
      '{"action":"job.submitted","actorId":"key-1","actorKind":"apikey","correlationId":"corr-1",' +
      '"details":{"a":{"b":null,"y":true},"list":["x",2],"z":1},"domain":"controlplane/audit-event/v1",' +
      '"id":"6f1c2a9e-3b7d-4c1e-9f0a-2b3c4d5e6f70","occurredAt":"2024-05-01T12:00:00.123Z","outcome":"success",' +
      `"prevHash":"${'0'.repeat(64)}","resourceId":"job-1","resourceKind":"job","seq":"1",` +
      '"sourceAddress":"203.0.113.7","tenantId":"acme"}';
    const expected = createHash('sha256').update(canonical, 'utf8').digest('hex');
    expect(computeAuditHash(record)).toBe(expected);
    expect(expected).toBe('41ef403a0bfa94f0bc51cda96b2bfc3f16027ba57191f3068d5da4e18dc45346');
    // Absent resource and correlation id are hashed as null, not left out.
    const bare = { ...record, resource: null, correlationId: null };
    const bareCanonical = canonical
      .replace('"correlationId":"corr-1"', '"correlationId":null')
      .replace('"resourceId":"job-1","resourceKind":"job"', '"resourceId":null,"resourceKind":null');
    expect(computeAuditHash(bare)).toBe(createHash('sha256').update(bareCanonical, 'utf8').digest('hex'));
  });

  it('changes when any hashed field changes, including the position in the chain', () => {
    const [record] = chainOf(1);
    if (!record) throw new Error('no record');
    const base = computeAuditHash(record);
    const variants: Array<Omit<AuditRecord, 'hash'>> = [
      { ...record, seq: '2' },
      { ...record, id: '00000000-0000-4000-8000-000000000999' },
      { ...record, occurredAt: '2024-05-01T12:00:00.002Z' },
      { ...record, tenantId: 'other' },
      { ...record, tenantId: null, actor: { kind: 'apikey', id: 'key-2' } },
      { ...record, actor: { kind: 'runner', id: 'key-1' } },
      { ...record, action: 'job.cancelled' },
      { ...record, resource: { kind: 'job', id: 'job-2' } },
      { ...record, outcome: 'denied' },
      { ...record, correlationId: 'corr-2' },
      { ...record, sourceAddress: '198.51.100.1' },
      { ...record, details: { attempt: 2 } },
      { ...record, prevHash: 'f'.repeat(64) },
    ];
    const hashes = variants.map((v) => computeAuditHash(v));
    expect(hashes).not.toContain(base);
    expect(new Set(hashes).size).toBe(variants.length);
  });

  it('does not depend on the key order of details (jsonb re-orders keys)', () => {
    const [record] = chainOf(1);
    if (!record) throw new Error('no record');
    const a = computeAuditHash({ ...record, details: { b: 1, a: { d: 2, c: 3 } } });
    const b = computeAuditHash({ ...record, details: { a: { c: 3, d: 2 }, b: 1 } });
    expect(a).toBe(b);
  });
});

describe('AuditChainVerifier', () => {
  it('accepts an intact chain and reports its head', () => {
    const chain = chainOf(5);
    expect(verify(chain)).toEqual({ ok: true, count: 5, headSeq: '5', headHash: chain[4]?.hash });
    expect(verify([])).toEqual({ ok: true, count: 0, headSeq: '0', headHash: AUDIT_GENESIS_HASH });
  });

  it('names an edited row with hash_mismatch', () => {
    const chain = chainOf(5);
    const original = chain[2]!;
    chain[2] = { ...original, details: { attempt: 99 } };
    expect(verify(chain)).toEqual({
      ok: false,
      count: 2,
      firstBad: { seq: '3', reason: 'hash_mismatch', expected: computeAuditHash(chain[2]), actual: original.hash },
    });
  });

  it('names a removed row with missing_seq and a renumbered one with out_of_order', () => {
    const chain = chainOf(5);
    expect(verify([...chain.slice(0, 2), ...chain.slice(3)])).toEqual({
      ok: false,
      count: 2,
      firstBad: { seq: '3', reason: 'missing_seq', expected: '3', actual: '4' },
    });
    expect(verify(chain.slice(1))).toMatchObject({ ok: false, count: 0, firstBad: { seq: '1', reason: 'missing_seq', actual: '2' } });
    const renumbered = [...chain.slice(0, 2), { ...chain[3]!, seq: '3' }, { ...chain[4]!, seq: '4' }];
    expect(verify(renumbered)).toEqual({ ok: false, count: 2, firstBad: { seq: '3', reason: 'out_of_order', expected: '3', actual: '4' } });
  });

  it('names a re-hashed edit at the next row with prev_hash_mismatch', () => {
    const chain = chainOf(5);
    const { hash: oldHash, ...rest } = chain[2]!;
    chain[2] = sealed({ ...rest, details: { attempt: 99 } });
    expect(verify(chain)).toEqual({
      ok: false,
      count: 3,
      firstBad: { seq: '4', reason: 'prev_hash_mismatch', expected: chain[2].hash, actual: oldHash },
    });
  });

  it('detects a chain cut short or rewritten only against an anchor kept elsewhere', () => {
    const chain = chainOf(5);
    const anchor = { seq: '5', hash: chain[4]!.hash };
    expect(verify(chain.slice(0, 4))).toMatchObject({ ok: true, count: 4 });
    expect(verify(chain.slice(0, 4), { expectHead: anchor })).toEqual({
      ok: false,
      count: 4,
      firstBad: { seq: '5', reason: 'missing_seq', expected: '5', actual: '4' },
    });
    // A consistent rewrite from seq 1 passes the chain checks; only the anchor exposes it.
    const rewritten: AuditRecord[] = [];
    for (const r of chain)
      rewritten.push(
        sealed({ ...r, actor: { kind: 'system', id: 'nobody' }, prevHash: rewritten[rewritten.length - 1]?.hash ?? AUDIT_GENESIS_HASH }),
      );
    expect(verify(rewritten)).toMatchObject({ ok: true, count: 5 });
    expect(verify(rewritten, { expectHead: anchor })).toEqual({
      ok: false,
      count: 4,
      firstBad: { seq: '5', reason: 'hash_mismatch', expected: anchor.hash, actual: rewritten[4]!.hash },
    });
  });

  it('continues from a head reported by an earlier run', () => {
    const chain = chainOf(6);
    expect(verify(chain.slice(3), { fromSeq: '4', prevHash: chain[2]!.hash })).toEqual({
      ok: true,
      count: 3,
      headSeq: '6',
      headHash: chain[5]!.hash,
    });
    expect(verify(chain.slice(3), { fromSeq: '4', prevHash: chain[1]!.hash })).toMatchObject({
      ok: false,
      firstBad: { seq: '4', reason: 'prev_hash_mismatch' },
    });
    expect(() => new AuditChainVerifier({ fromSeq: 0 })).toThrow(RangeError);
  });
});

describe('redactAuditDetails', () => {
  it('redacts credential and payload keys at any depth, whatever their spelling', () => {
    const out = redactAuditDetails({
      authorization: 'Bearer abc',
      headers: { Authorization: 'x', 'X-Api-Key': 'k', cookie: 'c' },
      token: 't',
      joinToken: 'jt',
      join_token: 'jt2',
      refreshToken: 'rt',
      apiKey: 'ak',
      client_secret: 's',
      password: 'p',
      newPassword: 'np',
      privateKey: 'pk',
      keyPem: 'pem',
      signature: 'sig',
      resultSignature: 'rsig',
      payload: { data: { card: '4111' } },
      result: ['anything'],
      nested: [{ deeper: { secret: { even: 'objects' } } }],
      // Identifiers that an audit trail needs are kept.
      tokenId: 'tok_123',
      apiKeyId: 'key_123',
      jobId: 'job-1',
      payloadBytes: 1234,
    });
    expect(out).toEqual({
      authorization: AUDIT_REDACTED,
      headers: { Authorization: AUDIT_REDACTED, 'X-Api-Key': AUDIT_REDACTED, cookie: AUDIT_REDACTED },
      token: AUDIT_REDACTED,
      joinToken: AUDIT_REDACTED,
      join_token: AUDIT_REDACTED,
      refreshToken: AUDIT_REDACTED,
      apiKey: AUDIT_REDACTED,
      client_secret: AUDIT_REDACTED,
      password: AUDIT_REDACTED,
      newPassword: AUDIT_REDACTED,
      privateKey: AUDIT_REDACTED,
      keyPem: AUDIT_REDACTED,
      signature: AUDIT_REDACTED,
      resultSignature: AUDIT_REDACTED,
      payload: AUDIT_REDACTED,
      result: AUDIT_REDACTED,
      nested: [{ deeper: { secret: AUDIT_REDACTED } }],
      tokenId: 'tok_123',
      apiKeyId: 'key_123',
      jobId: 'job-1',
      payloadBytes: 1234,
    });
    expect(JSON.stringify(out)).not.toMatch(/abc|4111|objects|"pem"|"sig"/);
  });

  it('redacts credential-shaped strings under innocent keys', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n';
    expect(redactAuditDetails({ header: 'Bearer eyJhbGciOi', note: 'basic dXNlcjpwYXNz', file: pem, ok: 'a bearer of news' })).toEqual({
      header: AUDIT_REDACTED,
      note: AUDIT_REDACTED,
      file: AUDIT_REDACTED,
      ok: 'a bearer of news',
    });
  });

  it('turns values PostgreSQL or JSON would alter into values that round-trip unchanged', () => {
    class Money {
      toJSON() {
        return { cents: 5 };
      }
    }
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const out = redactAuditDetails({
      nul: 'a\u0000b',
      lone: 'x\ud800y',
      pair: '\ud83d\ude00',
      when: new Date('2024-05-01T00:00:00.000Z'),
      big: 12345678901234567890n,
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      gone: undefined,
      fn: () => 1,
      bytes: Buffer.from('secret bytes'),
      money: new Money(),
      err: Object.assign(new Error('boom'), { code: 'E_BOOM' }),
      cyclic,
      list: [undefined, 1],
      ['__proto__']: 'not a prototype',
    });
    expect(out).toEqual({
      nul: 'a\ufffdb',
      lone: 'x\ufffdy',
      pair: '\ud83d\ude00',
      when: '2024-05-01T00:00:00.000Z',
      big: '12345678901234567890',
      nan: null,
      inf: null,
      bytes: '[BINARY 12 bytes]',
      money: { cents: 5 },
      err: { name: 'Error', message: 'boom', code: 'E_BOOM' },
      cyclic: { name: 'loop', self: '[CIRCULAR]' },
      list: [null, 1],
      // Kept as an ordinary key, as JSON.parse of the stored row will give it back.
      ['__proto__']: 'not a prototype',
    });
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.keys(out)).toContain('__proto__');
    expect(JSON.parse(JSON.stringify(out))).toEqual(out);
  });

  it('bounds depth and string length', () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const out = JSON.stringify(redactAuditDetails({ deep, long: 'x'.repeat(10_000) }));
    expect(out).toContain('[TRUNCATED]');
    expect(out).not.toContain('"leaf"');
    expect(out.length).toBeLessThan(5_000);
  });
});

describe('queryAudit input checks', () => {
  const unused: Sql = {
    query: () => Promise.reject(new Error('must not reach the database')),
  };

  it('refuses a forged cursor and an out-of-range limit before any SQL runs', async () => {
    await expect(queryAudit(unused, { cursor: Buffer.from("x' or 1=1 --").toString('base64url') })).rejects.toBeInstanceOf(ValidationError);
    await expect(queryAudit(unused, { cursor: 'not base64 at all!' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [{ path: ['cursor'] }],
    });
    await expect(queryAudit(unused, { limit: 0 })).rejects.toMatchObject({ details: [{ path: ['limit'] }] });
    await expect(queryAudit(unused, { limit: 1001 })).rejects.toMatchObject({ details: [{ path: ['limit'] }] });
    await expect(queryAudit(unused, { after: 'yesterday' })).rejects.toMatchObject({ details: [{ path: ['after'] }] });
  });
});
