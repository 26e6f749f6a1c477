// Encryption at rest on the embedded database, whose one connection cannot give the data-key store
// a pool of its own: the key store's statements run inside the caller's open transaction (no
// CP_STORAGE_NESTED_TRANSACTION, no deadlock), and a key made in a transaction that rolls back is
// stored all the same — otherwise the Keyring would go on encrypting with a key nobody can read.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyringFile, isEncrypted } from '@controlplane/platform';
import {
  asSystem,
  createPgliteDatabase,
  dropToServiceRole,
  ensureTenant,
  migrate,
  openFieldEncryption,
  withTenant,
  type Database,
} from '@controlplane/server';

describe('field encryption on the embedded database', () => {
  let dir: string;
  let keyringFile: string;
  let db: Database;
  const aad = { tenantId: 'emb', table: 'jobs', rowId: 'row-1', field: 'payload' };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cp-emb-enc-'));
    keyringFile = join(dir, 'keyring.json');
    await generateKeyringFile(keyringFile);
    db = await createPgliteDatabase();
    await migrate(db);
    await dropToServiceRole(db);
    await ensureTenant(db, { id: 'emb', name: 'Embedded' });
  });
  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const keyCount = () =>
    asSystem('count keys', async () => (await db.query<{ n: number }>('select count(*)::int as n from data_keys')).rows[0]!.n);

  it('has no independent statements on a pool of its own: they are the one connection, inside the open transaction', () => {
    expect(db.independent).toBeDefined();
    expect(db.independent).not.toBe(db);
  });

  it('a key made inside a transaction that rolls back is kept, and a fresh process decrypts what it encrypted', async () => {
    const { cipher } = await openFieldEncryption({ keyringFile, keyDb: db.independent! });
    let sealed = '';
    await expect(
      withTenant('emb', () =>
        db.transaction(async (tx) => {
          await tx.query('select 1');
          sealed = (await cipher.encrypt({ secret: 'kept' }, aad)) as string;
          throw new Error('the caller fails after its first encryption');
        }),
      ),
    ).rejects.toThrow('the caller fails');
    expect(isEncrypted(sealed)).toBe(true);
    expect(await keyCount()).toBe(1);

    // Another cipher with an empty cache (as after a restart) reads the key from the database.
    const { cipher: restarted } = await openFieldEncryption({ keyringFile, keyDb: db.independent! });
    expect(await withTenant('emb', () => db.transaction(() => restarted.decrypt(sealed, aad)))).toEqual({ secret: 'kept' });
    // And the first cipher goes on with the same current key: no second key was made.
    await withTenant('emb', () => db.transaction(() => cipher.encrypt('again', aad)));
    expect(await keyCount()).toBe(1);
  });

  it('the blind-index root made inside a committed transaction is stored with it, outside any transaction too', async () => {
    const { cipher } = await openFieldEncryption({ keyringFile, keyDb: db.independent! });
    const inside = await withTenant('emb', () => db.transaction(() => cipher.blindIndex('emb', 'v', 'scope')));
    const { cipher: restarted } = await openFieldEncryption({ keyringFile, keyDb: db.independent! });
    const outside = await withTenant('emb', () => restarted.blindIndex('emb', 'v', 'scope'));
    expect(outside).toBe(inside);
  });
});
