import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isTenantId, PoolName, PRODUCT_VERSION, Role, ROLES, TENANT_ID_PATTERN, TenantId } from '@controlplane/contracts';

const repoFile = (path: string) => fileURLToPath(new URL(`../../../${path}`, import.meta.url));

describe('identifiers', () => {
  const good = ['a', '0', 'acme', 'team-7', 'a'.repeat(63), 'x-'];
  const bad = ['', '-acme', 'Acme', 'acme_corp', 'acme.corp', 'a'.repeat(64), 'ac me', 'acme\n', 'é'];

  it('accepts the tenant ids the database accepts, and nothing else', () => {
    for (const id of good) expect(isTenantId(id), id).toBe(true);
    for (const id of bad) expect(isTenantId(id), id).toBe(false);
    for (const value of [undefined, null, 7, ['acme']]) expect(isTenantId(value)).toBe(false);
    expect(TenantId.safeParse('acme').success).toBe(true);
    expect(TenantId.safeParse('-acme').error?.issues[0]?.message).toBe('must be a tenant id');
  });

  it('holds the same rule as the tenants_id_format constraint of the first migration', () => {
    const sql = readFileSync(repoFile('packages/server/migrations/001_init.sql'), 'utf8');
    const rule = /constraint tenants_id_format check \(id ~ '([^']+)'\)/.exec(sql)?.[1];
    expect(rule).toBe(TENANT_ID_PATTERN.source);
  });

  it('names pools by the same rule', () => {
    for (const id of good) expect(PoolName.safeParse(id).success, id).toBe(true);
    for (const id of bad) expect(PoolName.safeParse(id).success, id).toBe(false);
  });

  it('knows the four roles', () => {
    expect(ROLES).toEqual(['admin', 'operator', 'submitter', 'viewer']);
    expect(Role.safeParse('operator').success).toBe(true);
    expect(Role.safeParse('root').success).toBe(false);
  });
});

describe('PRODUCT_VERSION', () => {
  it('is the version of the repository and of every package', () => {
    const versionOf = (path: string) => (JSON.parse(readFileSync(repoFile(path), 'utf8')) as { version: string }).version;
    expect(versionOf('package.json')).toBe(PRODUCT_VERSION);
    for (const name of ['contracts', 'platform', 'server', 'runner', 'client', 'cli'])
      expect(versionOf(`packages/${name}/package.json`), name).toBe(PRODUCT_VERSION);
  });
});
