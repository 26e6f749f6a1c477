import { createHash, createHmac, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InternalError, isInternalError, type InternalErrorCode } from '@controlplane/contracts';
import {
  BLIND_INDEX_KEY_ID,
  FieldCipher,
  InMemoryDataKeyStore,
  Keyring,
  LocalFileKeyProvider,
  addKekToKeyringFile,
  blindIndex,
  dataKeyIdOf,
  deriveBlindIndexKey,
  generateDataKey,
  generateKeyringFile,
  isEncrypted,
  type DataKeyStore,
  type FieldAad,
  type WrappedDataKey,
} from '@controlplane/platform';

const SECRET = 'card=4111-1111-1111-1111';
const AAD: FieldAad = { tenantId: 'tenant-a', table: 'jobs', rowId: '7d4f9a3e-0000-4000-8000-000000000001', field: 'payload' };
const FORMAT = /^cpenc:v1:[0-9a-f-]{36}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+$/;

let dir: string;
let keyringPath: string;
let store: InMemoryDataKeyStore;
let provider: LocalFileKeyProvider;
let cipher: FieldCipher;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cp-crypto-'));
  keyringPath = join(dir, 'keyring.json');
  await generateKeyringFile(keyringPath);
  provider = await LocalFileKeyProvider.load(keyringPath);
  store = new InMemoryDataKeyStore();
  cipher = new FieldCipher(new Keyring({ provider, store }));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function flipBits(buf: Buffer, index: number, mask: number): void {
  buf.writeUInt8(buf.readUInt8(index) ^ mask, index);
}

async function failure(work: Promise<unknown>): Promise<InternalError> {
  const outcome = await work.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isInternalError(outcome, 'CP_CRYPTO_DECRYPT_'))
    throw new Error(`expected a CP_CRYPTO_DECRYPT_* error, got ${outcome === undefined ? 'success' : String(outcome)}`);
  // Whatever went wrong, the error never carries the plaintext.
  expect(outcome.message).not.toContain(SECRET);
  expect(String((outcome as { cause?: unknown }).cause ?? '')).not.toContain(SECRET);
  return outcome;
}

async function expectDecryptionFailure(work: Promise<unknown>, code: InternalErrorCode): Promise<void> {
  expect((await failure(work)).code).toBe(code);
}

async function keyringFailure(work: Promise<unknown>, code: InternalErrorCode): Promise<InternalError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InternalError);
  expect((err as InternalError).code).toBe(code);
  return err as InternalError;
}

/** A store that counts reads, to see what the cache saves. */
class CountingStore implements DataKeyStore {
  readonly inner = new InMemoryDataKeyStore();
  gets = 0;
  currents = 0;
  get(tenantId: string, keyId: string) {
    this.gets += 1;
    return this.inner.get(tenantId, keyId);
  }
  current(tenantId: string) {
    this.currents += 1;
    return this.inner.current(tenantId);
  }
  put(record: WrappedDataKey) {
    return this.inner.put(record);
  }
  putIfAbsent(record: WrappedDataKey) {
    return this.inner.putIfAbsent(record);
  }
  setCurrent(tenantId: string, keyId: string) {
    return this.inner.setCurrent(tenantId, keyId);
  }
}

describe('field encryption: round trips and format', () => {
  it('round-trips strings, bytes and JSON values, keeping their type', async () => {
    const values = [
      SECRET,
      '',
      'ünïcödé ✓',
      Buffer.from([0, 1, 2, 255]),
      { b: [1, 2, { c: null }], a: 'x' },
      [1, 'two', false],
      42,
      -0.5,
      true,
      null,
    ];
    for (const value of values) {
      const ct = await cipher.encrypt(value, AAD);
      expect(ct).toMatch(FORMAT);
      expect(isEncrypted(ct)).toBe(true);
      const back = await cipher.decrypt(ct, AAD);
      expect(back).toEqual(value);
      expect(Buffer.isBuffer(back)).toBe(Buffer.isBuffer(value));
    }
  });

  it('uses a fresh IV per value and shows no plaintext', async () => {
    const one = await cipher.encrypt(SECRET, AAD);
    const two = await cipher.encrypt(SECRET, AAD);
    expect(one).not.toBe(two);
    expect(one.split(':')[3]).not.toBe(two.split(':')[3]);
    const body = Buffer.from(one.split(':')[4] ?? '', 'base64url');
    expect(body.includes(Buffer.from(SECRET))).toBe(false);
    expect(one).not.toContain(Buffer.from(SECRET).toString('base64url').slice(0, 12));
  });

  it('isEncrypted recognises only well-formed cpenc:v1 strings', () => {
    expect(isEncrypted(SECRET)).toBe(false);
    expect(isEncrypted(42)).toBe(false);
    expect(isEncrypted(null)).toBe(false);
    expect(isEncrypted('cpenc:v1:abc')).toBe(false);
    expect(isEncrypted('cpenc:v2:k:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAA')).toBe(false);
    expect(isEncrypted('cpenc:v1:k:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAAA')).toBe(true);
  });

  it('refuses values JSON cannot carry and incomplete associated data', async () => {
    await expect(cipher.encrypt(Number.NaN, AAD)).rejects.toThrow(/not representable/);
    await expect(cipher.encrypt(undefined as never, AAD)).rejects.toThrow(TypeError);
    await expect(cipher.encrypt(SECRET, { ...AAD, rowId: '' })).rejects.toThrow(/aad.rowId/);
    await expect(cipher.encrypt(SECRET, { ...AAD, tenantId: undefined as never })).rejects.toThrow(/aad.tenantId/);
  });
});

describe('field encryption: attacks', () => {
  it.each([
    ['row', { rowId: '7d4f9a3e-0000-4000-8000-000000000002' }],
    ['field', { field: 'result' }],
    ['table', { table: 'assertions' }],
  ] as const)('a ciphertext copied to another %s does not decrypt', async (_what, change) => {
    const ct = await cipher.encrypt(SECRET, AAD);
    await expectDecryptionFailure(cipher.decrypt(ct, { ...AAD, ...change }), 'CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED');
    await expect(cipher.decrypt(ct, AAD)).resolves.toBe(SECRET);
  });

  it('a ciphertext copied to another tenant does not decrypt, even when that tenant has keys', async () => {
    await cipher.encrypt('tenant b data', { ...AAD, tenantId: 'tenant-b' });
    const ct = await cipher.encrypt(SECRET, AAD);
    await expectDecryptionFailure(cipher.decrypt(ct, { ...AAD, tenantId: 'tenant-b' }), 'CP_CRYPTO_DECRYPT_UNKNOWN_DATA_KEY');
  });

  it("copying the tenant's wrapped data key record to the other tenant as well does not help: the wrap is bound to the tenant", async () => {
    const ct = await cipher.encrypt(SECRET, AAD);
    const [record] = store.all().filter((r) => r.tenantId === 'tenant-a');
    if (!record) throw new Error('no data key stored');
    await store.put({ ...record, tenantId: 'tenant-b' });
    await keyringFailure(cipher.decrypt(ct, { ...AAD, tenantId: 'tenant-b' }), 'CP_KEYRING_UNWRAP_FAILED');
  });

  it('flipping any single bit of the IV, ciphertext or tag makes decryption fail', async () => {
    const ct = await cipher.encrypt(SECRET, AAD);
    const [prefix, version, keyId, ivText = '', bodyText = ''] = ct.split(':');
    const parts = { iv: Buffer.from(ivText, 'base64url'), body: Buffer.from(bodyText, 'base64url') };
    let attempts = 0;
    for (const which of ['iv', 'body'] as const) {
      for (let i = 0; i < parts[which].length; i += 1) {
        const iv = Buffer.from(parts.iv);
        const body = Buffer.from(parts.body);
        flipBits(which === 'iv' ? iv : body, i, 1 << (i % 8));
        const tampered = [prefix, version, keyId, iv.toString('base64url'), body.toString('base64url')].join(':');
        await expectDecryptionFailure(cipher.decrypt(tampered, AAD), 'CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED');
        attempts += 1;
      }
    }
    expect(attempts).toBe(12 + 1 + SECRET.length + 16);
  });

  it('swapping the key id for another key of the same tenant fails', async () => {
    const old = await cipher.encrypt(SECRET, AAD);
    const fresh = await cipher.keyring.rotateDataKey(AAD.tenantId);
    const swapped = old.replace(dataKeyIdOf(old) ?? '', fresh.id);
    expect(swapped).not.toBe(old);
    await expectDecryptionFailure(cipher.decrypt(swapped, AAD), 'CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED');
  });

  it('rejects the tag cut short (GCM would otherwise accept a truncated tag)', async () => {
    const ct = await cipher.encrypt(SECRET, AAD);
    const parts = ct.split(':');
    const body = Buffer.from(parts[4] ?? '', 'base64url');
    for (const cut of [3, 4, 12]) {
      parts[4] = body.subarray(0, body.length - cut).toString('base64url');
      await failure(cipher.decrypt(parts.join(':'), AAD));
    }
  });

  it('fails cleanly on truncated and garbled strings', async () => {
    const ct = await cipher.encrypt(SECRET, AAD);
    const [, , keyId = '', iv = '', body = ''] = ct.split(':');
    const malformed = [
      '',
      SECRET,
      'cpenc:v1:',
      ct.slice(0, 20),
      ct.slice(0, ct.lastIndexOf(':')),
      `${ct}=`,
      `${ct}:extra`,
      ct.replace('cpenc:v1:', 'cpenc:v2:'),
      ct.replace('cpenc:v1:', 'CPENC:v1:'),
      `cpenc:v1:${keyId}:${iv.slice(0, -1)}:${body}`,
      `cpenc:v1:${keyId}:${iv}A:${body}`,
      `cpenc:v1:${keyId}:${iv}:${body.slice(0, 10)}`,
      `cpenc:v1:${keyId}:${iv}:${body.slice(0, 10)}+/${body.slice(12)}`,
      `cpenc:v1:bad key:${iv}:${body}`,
      ` ${ct}`,
    ];
    for (const text of malformed) await expectDecryptionFailure(cipher.decrypt(text, AAD), 'CP_CRYPTO_DECRYPT_MALFORMED');
    // One character off the end: malformed base64url, or (when the shorter string happens to be
    // canonical base64url too) a body that GCM refuses. Either way it fails cleanly.
    expect(['CP_CRYPTO_DECRYPT_MALFORMED', 'CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED']).toContain(
      (await failure(cipher.decrypt(ct.slice(0, -1), AAD))).code,
    );
    await expectDecryptionFailure(cipher.decrypt(42 as unknown as string, AAD), 'CP_CRYPTO_DECRYPT_MALFORMED');
    // A truncation that still parses reaches GCM and is refused there.
    const shorter = Buffer.from(body, 'base64url').subarray(0, -3).toString('base64url');
    await expectDecryptionFailure(cipher.decrypt(`cpenc:v1:${keyId}:${iv}:${shorter}`, AAD), 'CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED');
    // A well-formed string naming a key nobody has.
    await expectDecryptionFailure(
      cipher.decrypt(`cpenc:v1:00000000-0000-4000-8000-000000000000:${iv}:${body}`, AAD),
      'CP_CRYPTO_DECRYPT_UNKNOWN_DATA_KEY',
    );
  });

  it('never hands out the blind-index root as a data key', async () => {
    await cipher.blindIndex(AAD.tenantId, 'x');
    const ct = await cipher.encrypt(SECRET, AAD);
    const forged = ct.replace(dataKeyIdOf(ct) ?? '', BLIND_INDEX_KEY_ID);
    await expectDecryptionFailure(cipher.decrypt(forged, AAD), 'CP_CRYPTO_DECRYPT_UNKNOWN_DATA_KEY');
    await expect(cipher.keyring.dataKey(AAD.tenantId, BLIND_INDEX_KEY_ID)).resolves.toBeUndefined();
  });
});

describe('rotation', () => {
  it('values under an old data key still decrypt after a new one becomes current, and reencrypt moves them', async () => {
    const old = await cipher.encrypt(SECRET, AAD);
    const oldKeyId = dataKeyIdOf(old);
    const next = await cipher.keyring.rotateDataKey(AAD.tenantId);
    expect(next.id).not.toBe(oldKeyId);
    const fresh = await cipher.encrypt(SECRET, AAD);
    expect(dataKeyIdOf(fresh)).toBe(next.id);
    await expect(cipher.decrypt(old, AAD)).resolves.toBe(SECRET);

    const moved = await cipher.reencrypt(old, AAD);
    expect(dataKeyIdOf(moved)).toBe(next.id);
    await expect(cipher.decrypt(moved, AAD)).resolves.toBe(SECRET);
    expect(await cipher.reencrypt(moved, AAD)).toBe(moved);
    // The new ciphertext is still bound to its row.
    await expectDecryptionFailure(cipher.decrypt(moved, { ...AAD, rowId: 'other' }), 'CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED');
  });

  it('reencrypt refuses to launder a tampered or moved value', async () => {
    const ct = await cipher.encrypt(SECRET, AAD);
    await cipher.keyring.rotateDataKey(AAD.tenantId);
    await expectDecryptionFailure(cipher.reencrypt(ct, { ...AAD, field: 'result' }), 'CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED');
    const current = await cipher.encrypt(SECRET, AAD);
    await expectDecryptionFailure(cipher.reencrypt(current, { ...AAD, field: 'result' }), 'CP_CRYPTO_DECRYPT_AUTHENTICATION_FAILED');
  });

  it('values under an old KEK still decrypt after a new KEK is added, and re-wrapping lets the old KEK be retired', async () => {
    const beforeKek = provider.currentKekId();
    const old = await cipher.encrypt({ secret: SECRET }, AAD);
    const index = await cipher.blindIndex(AAD.tenantId, SECRET);

    const { kekId: newKek } = await addKekToKeyringFile(keyringPath);
    expect(newKek).not.toBe(beforeKek);
    expect((await stat(keyringPath)).mode & 0o777).toBe(0o600);
    await provider.reload();
    expect(provider.currentKekId()).toBe(newKek);
    expect(provider.kekIds().sort()).toEqual([beforeKek, newKek].sort());

    // A fresh process (empty cache) reads the old value through the old KEK.
    const restarted = new FieldCipher(new Keyring({ provider, store }));
    await expect(restarted.decrypt(old, AAD)).resolves.toEqual({ secret: SECRET });
    const next = await restarted.keyring.rotateDataKey(AAD.tenantId);
    expect((await store.get(AAD.tenantId, next.id))?.kekId).toBe(newKek);

    for (const record of store.all()) {
      const changed = await restarted.keyring.rewrapDataKey(record.tenantId, record.id);
      expect(changed).toBe(record.kekId !== newKek);
    }
    expect(store.all().every((r) => r.kekId === newKek)).toBe(true);
    expect(store.all().map((r) => r.id)).toContain(BLIND_INDEX_KEY_ID);

    // Retire the old KEK: a keyring holding only the new one still reads everything.
    const onlyNew = join(dir, 'only-new.json');
    const file = JSON.parse(await readFile(keyringPath, 'utf8')) as { current: string; keys: Record<string, string> };
    await writeFile(onlyNew, JSON.stringify({ current: newKek, keys: { [newKek]: file.keys[newKek] } }), { mode: 0o600 });
    const retired = new FieldCipher(new Keyring({ provider: await LocalFileKeyProvider.load(onlyNew), store }));
    await expect(retired.decrypt(old, AAD)).resolves.toEqual({ secret: SECRET });
    expect(await retired.blindIndex(AAD.tenantId, SECRET)).toBe(index);
  });

  it('a KEK missing from the keyring is a clear operator error, not a silent failure', async () => {
    const ct = await cipher.encrypt(SECRET, AAD);
    const otherPath = join(dir, 'other.json');
    await generateKeyringFile(otherPath);
    const stranger = new FieldCipher(new Keyring({ provider: await LocalFileKeyProvider.load(otherPath), store }));
    const err = await keyringFailure(stranger.decrypt(ct, AAD), 'CP_KEYRING_KEK_NOT_FOUND');
    expect(err.message).toContain(provider.currentKekId());
  });
});

describe('key provider and keyring file', () => {
  it('generates a 0600 keyring with one 32-byte KEK and refuses to overwrite it', async () => {
    expect((await stat(keyringPath)).mode & 0o777).toBe(0o600);
    const file = JSON.parse(await readFile(keyringPath, 'utf8')) as { current: string; keys: Record<string, string> };
    expect(Object.keys(file.keys)).toEqual([file.current]);
    expect(Buffer.from(file.keys[file.current] ?? '', 'base64')).toHaveLength(32);
    await keyringFailure(generateKeyringFile(keyringPath), 'CP_KEYRING_EXISTS');
    expect(await readFile(keyringPath, 'utf8')).toBe(`${JSON.stringify(file, null, 2)}\n`);
  });

  it.each([0o644, 0o640, 0o604, 0o660])('refuses a keyring file with mode %o, saying how to fix it', async (mode) => {
    await chmod(keyringPath, mode);
    const err = await keyringFailure(LocalFileKeyProvider.load(keyringPath), 'CP_KEYRING_INSECURE_PERMISSIONS');
    expect(err.message).toContain(`chmod 600 ${keyringPath}`);
    expect(err.message).toContain(mode.toString(8));
    await keyringFailure(addKekToKeyringFile(keyringPath), 'CP_KEYRING_INSECURE_PERMISSIONS');
  });

  it('keeps the old keyring when a reload finds the file made readable by others', async () => {
    const kek = provider.currentKekId();
    await chmod(keyringPath, 0o644);
    await keyringFailure(provider.reload(), 'CP_KEYRING_INSECURE_PERMISSIONS');
    expect(provider.currentKekId()).toBe(kek);
  });

  it.each([
    [
      'a 31-byte key',
      (k: string) => ({ current: 'k1', keys: { k1: randomBytes(31).toString('base64'), k2: k } }),
      /k1 is 31 bytes; AES-256 needs exactly 32/,
    ],
    ['a 33-byte key', (k: string) => ({ current: 'k2', keys: { k1: randomBytes(33).toString('base64'), k2: k } }), /k1 is 33 bytes/],
    ['a key that is not base64', () => ({ current: 'k1', keys: { k1: `${'A'.repeat(40)}!!!=` } }), /k1 is not base64/],
    ['a current KEK that is absent', (k: string) => ({ current: 'k9', keys: { k1: k } }), /"current" must name a KEK/],
    ['no keys object', () => ({ current: 'k1' }), /"keys" must be an object/],
    ['a KEK id with a separator', (k: string) => ({ current: 'a:b', keys: { 'a:b': k } }), /KEK id "a:b"/],
  ] as const)('refuses a keyring with %s', async (_what, make, message) => {
    const path = join(dir, 'bad.json');
    await writeFile(path, JSON.stringify(make(randomBytes(32).toString('base64'))), { mode: 0o600 });
    const err = await keyringFailure(LocalFileKeyProvider.load(path), 'CP_KEYRING_INVALID');
    expect(err.message).toMatch(message);
  });

  it('refuses a keyring that is not JSON, and a missing file', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, '{ not json', { mode: 0o600 });
    await keyringFailure(LocalFileKeyProvider.load(path), 'CP_KEYRING_NOT_JSON');
    await keyringFailure(LocalFileKeyProvider.load(join(dir, 'absent.json')), 'CP_KEYRING_NOT_FOUND');
  });

  it('binds a wrapped data key to its tenant and id', async () => {
    const key = generateDataKey('tenant-a');
    const { kekId, wrapped } = await provider.wrap(key.key, { tenantId: 'tenant-a', dataKeyId: key.id });
    expect(wrapped).toHaveLength(60);
    expect(wrapped.includes(key.key)).toBe(false);
    await expect(provider.unwrap(kekId, wrapped, { tenantId: 'tenant-a', dataKeyId: key.id })).resolves.toEqual(key.key);
    await keyringFailure(provider.unwrap(kekId, wrapped, { tenantId: 'tenant-b', dataKeyId: key.id }), 'CP_KEYRING_UNWRAP_FAILED');
    await keyringFailure(provider.unwrap(kekId, wrapped, { tenantId: 'tenant-a', dataKeyId: 'another-id' }), 'CP_KEYRING_UNWRAP_FAILED');
    const flipped = Buffer.from(wrapped);
    flipBits(flipped, 20, 0x80);
    await keyringFailure(provider.unwrap(kekId, flipped, { tenantId: 'tenant-a', dataKeyId: key.id }), 'CP_KEYRING_UNWRAP_FAILED');
    await keyringFailure(
      provider.unwrap(kekId, wrapped.subarray(0, 59), { tenantId: 'tenant-a', dataKeyId: key.id }),
      'CP_KEYRING_UNWRAP_INPUT_LENGTH',
    );
    await keyringFailure(provider.unwrap('kek-unknown', wrapped, { tenantId: 'tenant-a', dataKeyId: key.id }), 'CP_KEYRING_KEK_NOT_FOUND');
  });

  it('stores only wrapped keys', async () => {
    await cipher.encrypt(SECRET, AAD);
    const key = await cipher.keyring.currentDataKey(AAD.tenantId);
    const [record] = store.all();
    expect(record?.id).toBe(key.id);
    expect(record?.wrapped.includes(key.key)).toBe(false);
  });
});

describe('keyring: on-demand keys and cache', () => {
  it("creates a tenant's first data key once, even under concurrent first writes", async () => {
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => cipher.encrypt(`v${i}`, { ...AAD, rowId: `r${i}` })));
    const keyIds = new Set(results.map((ct) => dataKeyIdOf(ct)));
    expect(keyIds.size).toBe(1);
    expect(store.all().filter((r) => r.tenantId === AAD.tenantId)).toHaveLength(1);
  });

  it('two replicas creating the first key at once converge on one current key', async () => {
    const replicaA = new FieldCipher(new Keyring({ provider, store }));
    const replicaB = new FieldCipher(new Keyring({ provider, store }));
    const [a, b] = await Promise.all([replicaA.encrypt('a', AAD), replicaB.encrypt('b', AAD)]);
    const current = await store.current(AAD.tenantId);
    expect(current).toBeDefined();
    // Both values remain readable by both replicas whichever key each used.
    await expect(replicaB.decrypt(a, AAD)).resolves.toBe('a');
    await expect(replicaA.decrypt(b, AAD)).resolves.toBe('b');
    expect(dataKeyIdOf(await new FieldCipher(new Keyring({ provider, store })).encrypt('c', AAD))).toBe(current?.id);
  });

  it('keeps unwrapped keys for the configured time only', async () => {
    let now = 0;
    const counting = new CountingStore();
    const timed = new FieldCipher(new Keyring({ provider, store: counting, cacheTtlMs: 1000, clock: () => now }));
    const ct = await timed.encrypt(SECRET, AAD);
    counting.gets = 0;
    counting.currents = 0;
    await timed.decrypt(ct, AAD);
    await timed.encrypt(SECRET, AAD);
    expect([counting.gets, counting.currents]).toEqual([0, 0]);
    now = 1000;
    await timed.decrypt(ct, AAD);
    expect(counting.gets).toBe(1);
    await timed.encrypt(SECRET, AAD);
    expect(counting.currents).toBe(1);
  });

  it('holds at most maxCachedKeys unwrapped keys', async () => {
    const counting = new CountingStore();
    const small = new FieldCipher(new Keyring({ provider, store: counting, maxCachedKeys: 2 }));
    const cts = [];
    for (const tenantId of ['t1', 't2', 't3']) cts.push(await small.encrypt(SECRET, { ...AAD, tenantId }));
    counting.gets = 0;
    await small.decrypt(cts[2] ?? '', { ...AAD, tenantId: 't3' });
    await small.decrypt(cts[1] ?? '', { ...AAD, tenantId: 't2' });
    expect(counting.gets).toBe(0);
    await small.decrypt(cts[0] ?? '', { ...AAD, tenantId: 't1' });
    expect(counting.gets).toBe(1);
  });

  it('notices a rotation made by another replica within the cache time', async () => {
    let now = 0;
    const replicaA = new FieldCipher(new Keyring({ provider, store, cacheTtlMs: 1000, clock: () => now }));
    const first = dataKeyIdOf(await replicaA.encrypt(SECRET, AAD));
    const rotated = await new Keyring({ provider, store }).rotateDataKey(AAD.tenantId);
    expect(dataKeyIdOf(await replicaA.encrypt(SECRET, AAD))).toBe(first);
    now = 1001;
    expect(dataKeyIdOf(await replicaA.encrypt(SECRET, AAD))).toBe(rotated.id);
  });
});

describe('blind index', () => {
  it('equal values give equal indexes, whatever the key order; different values differ', async () => {
    const a = await cipher.blindIndex('tenant-a', { email: 'a@example.com', n: 1 });
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(await cipher.blindIndex('tenant-a', { n: 1, email: 'a@example.com' })).toBe(a);
    expect(await cipher.blindIndex('tenant-a', { n: 1, email: 'b@example.com' })).not.toBe(a);
    expect(await cipher.blindIndex('tenant-a', '1')).not.toBe(await cipher.blindIndex('tenant-a', 1));
  });

  it('different tenants and different scopes give different indexes for the same value', async () => {
    const value = 'a@example.com';
    const a = await cipher.blindIndex('tenant-a', value);
    expect(await cipher.blindIndex('tenant-b', value)).not.toBe(a);
    expect(await cipher.blindIndex('tenant-a', value, 'jobs.payload.email')).not.toBe(a);
    expect(await cipher.blindIndex('tenant-a', value, 'jobs.payload.email')).toBe(
      await cipher.blindIndex('tenant-a', value, 'jobs.payload.email'),
    );
  });

  it('is stable across data-key rotation and process restarts, and is not a plain hash or keyed by the data key', async () => {
    const value = { email: 'a@example.com' };
    const before = await cipher.blindIndex('tenant-a', value);
    await cipher.encrypt(SECRET, AAD);
    const dataKey = await cipher.keyring.currentDataKey('tenant-a');
    await cipher.keyring.rotateDataKey('tenant-a');
    expect(await cipher.blindIndex('tenant-a', value)).toBe(before);
    expect(await new FieldCipher(new Keyring({ provider, store })).blindIndex('tenant-a', value)).toBe(before);
    const canonical = '{"email":"a@example.com"}';
    expect(before).not.toBe(createHash('sha256').update(canonical).digest('hex'));
    expect(before).not.toBe(createHmac('sha256', dataKey.key).update(canonical).digest('hex'));
  });

  it('two replicas creating the index key at once agree on it', async () => {
    const replicas = Array.from({ length: 4 }, () => new FieldCipher(new Keyring({ provider, store })));
    const indexes = await Promise.all(replicas.map((r) => r.blindIndex('tenant-new', 'v')));
    expect(new Set(indexes).size).toBe(1);
    expect(store.all().filter((r) => r.tenantId === 'tenant-new' && r.id === BLIND_INDEX_KEY_ID)).toHaveLength(1);
  });

  it('blindIndex is HMAC-SHA256 over canonical JSON with an HKDF-derived per-tenant key', () => {
    const root = randomBytes(32);
    const keyA = deriveBlindIndexKey(root, 'tenant-a');
    const keyB = deriveBlindIndexKey(root, 'tenant-b');
    expect(keyA).toHaveLength(32);
    expect(keyA.equals(keyB)).toBe(false);
    expect(keyA.equals(root)).toBe(false);
    expect(blindIndex(keyA, { b: 2, a: 1 })).toBe(createHmac('sha256', keyA).update('{"a":1,"b":2}').digest('hex'));
    expect(() => blindIndex(Buffer.alloc(16), 'x')).toThrow(/32 bytes/);
    expect(() => blindIndex(keyA, undefined)).toThrow(TypeError);
  });
});
