import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AppError, type ErrorCode } from '@controlplane/contracts';
import {
  InMemoryNonceStore,
  canonicalPath,
  canonicalQuery,
  canonicalRequestString,
  generateSigningKeyPair,
  parseSignatureHeader,
  signRequest,
  verifyRequestSignature,
  type NonceStore,
  type VerifyRequestOptions,
} from '@controlplane/platform';

const NOW = new Date('2026-03-01T12:00:00Z');
const NOW_S = NOW.getTime() / 1000;
const KEY_ID = 'ak_test_01';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const alice = generateSigningKeyPair();
const mallory = generateSigningKeyPair();
const alicePublic = createPublicKey(alice.publicKeyPem);

const REQUEST = {
  method: 'POST',
  url: '/jobs/5b0e8d2a-3c1f-4f7e-9a55-0d4c2b9e7f10/cancel?reason=stuck&force=true',
  body: Buffer.from('{"reason":"operator request"}'),
};

/** A NonceStore that counts calls, to prove which checks ran before it. */
class CountingNonceStore implements NonceStore {
  readonly inner = new InMemoryNonceStore({ clock: () => NOW.getTime() });
  calls = 0;
  async checkAndStore(keyId: string, nonce: string, ttlSeconds: number): Promise<boolean> {
    this.calls += 1;
    return this.inner.checkAndStore(keyId, nonce, ttlSeconds);
  }
}

function sign(overrides: Partial<Parameters<typeof signRequest>[0]> = {}): string {
  return signRequest({ ...REQUEST, keyId: KEY_ID, privateKey: alice.privateKeyPem, now: NOW, ...overrides });
}

function verifyOptions(header: VerifyRequestOptions['header'], overrides: Partial<VerifyRequestOptions> = {}): VerifyRequestOptions {
  return {
    ...REQUEST,
    header,
    publicKeyFor: async (id) => (id === KEY_ID ? alicePublic : undefined),
    nonceStore: new CountingNonceStore(),
    now: NOW,
    ...overrides,
  };
}

async function rejection(options: VerifyRequestOptions): Promise<AppError> {
  const outcome = await verifyRequestSignature(options).then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(outcome instanceof AppError)) throw new Error(`expected an AppError, got ${outcome === undefined ? 'success' : String(outcome)}`);
  return outcome;
}

async function expectCode(options: VerifyRequestOptions, code: ErrorCode): Promise<AppError> {
  const err = await rejection(options);
  expect(err.code).toBe(code);
  expect(err.status).toBe(401);
  return err;
}

function flipBits(buf: Buffer, index: number, mask: number): void {
  buf.writeUInt8(buf.readUInt8(index) ^ mask, index);
}

function withSig(header: string, mutate: (sig: Buffer) => void): string {
  const fields = parseSignatureHeader(header);
  const sig = Buffer.from(fields.sig, 'base64url');
  mutate(sig);
  return header.replace(fields.sig, sig.toString('base64url'));
}

describe('request signing: acceptance', () => {
  it('verifies a correctly signed request and returns the key id', async () => {
    const header = sign();
    expect(header).toMatch(/^keyId=ak_test_01,ts=1772366400,nonce=[A-Za-z0-9_-]{22},sig=[A-Za-z0-9_-]{86}$/);
    await expect(verifyRequestSignature(verifyOptions(header))).resolves.toEqual({ keyId: KEY_ID });
  });

  it('accepts the body as a string or as bytes alike, and an absent body as the empty body', async () => {
    const header = sign({ body: '{"reason":"operator request"}' });
    await expect(verifyRequestSignature(verifyOptions(header))).resolves.toEqual({ keyId: KEY_ID });
    const empty = sign({ body: undefined, method: 'DELETE', url: '/admin/api-keys/ak_9' });
    await expect(
      verifyRequestSignature(verifyOptions(empty, { method: 'DELETE', url: '/admin/api-keys/ak_9', body: Buffer.alloc(0) })),
    ).resolves.toEqual({ keyId: KEY_ID });
  });

  it('accepts a KeyObject private key and signs identically to the PEM form (Ed25519 is deterministic)', () => {
    const nonce = 'AAAAAAAAAAAAAAAAAAAAAA';
    expect(sign({ privateKey: createPrivateKey(alice.privateKeyPem), nonce })).toBe(sign({ nonce }));
  });

  it('accepts equivalent spellings of the same target: encoded unreserved characters, query order, + as space', async () => {
    const header = sign({ url: '/jobs/a-b/cancel?y=2&x=hello%20world' });
    await expect(verifyRequestSignature(verifyOptions(header, { url: '/jobs/a%2Db/cancel?x=hello+world&y=2' }))).resolves.toEqual({
      keyId: KEY_ID,
    });
  });

  it('accepts timestamps exactly 300 s old and 300 s ahead', async () => {
    for (const skew of [-300, 300]) {
      const header = sign({ now: new Date((NOW_S + skew) * 1000) });
      await expect(verifyRequestSignature(verifyOptions(header))).resolves.toEqual({ keyId: KEY_ID });
    }
  });
});

describe('request signing: attacks', () => {
  it('refuses a replayed request with SIGNATURE_REPLAYED, and a re-signed request reusing the nonce too', async () => {
    const header = sign();
    const nonceStore = new CountingNonceStore();
    await expect(verifyRequestSignature(verifyOptions(header, { nonceStore }))).resolves.toEqual({ keyId: KEY_ID });
    await expectCode(verifyOptions(header, { nonceStore }), 'SIGNATURE_REPLAYED');
    // The same nonce signed again later (a new, valid signature) is still a replay within the window.
    const later = sign({ nonce: parseSignatureHeader(header).nonce, now: new Date((NOW_S + 10) * 1000) });
    await expectCode(verifyOptions(later, { nonceStore, now: new Date((NOW_S + 10) * 1000) }), 'SIGNATURE_REPLAYED');
  });

  it('refuses a body changed by one byte', async () => {
    const header = sign();
    const body = Buffer.from(REQUEST.body);
    flipBits(body, body.length - 3, 0x01);
    await expectCode(verifyOptions(header, { body }), 'SIGNATURE_INVALID');
    await expectCode(verifyOptions(header, { body: Buffer.concat([REQUEST.body, Buffer.from(' ')]) }), 'SIGNATURE_INVALID');
  });

  it.each([
    ['method', { method: 'DELETE' }],
    ['path', { url: '/jobs/5b0e8d2a-3c1f-4f7e-9a55-0d4c2b9e7f11/cancel?reason=stuck&force=true' }],
    ['encoded slash for a real one', { url: '/jobs%2F5b0e8d2a-3c1f-4f7e-9a55-0d4c2b9e7f10/cancel?reason=stuck&force=true' }],
    ['query value', { url: '/jobs/5b0e8d2a-3c1f-4f7e-9a55-0d4c2b9e7f10/cancel?reason=stuck&force=false' }],
    ['added query parameter', { url: '/jobs/5b0e8d2a-3c1f-4f7e-9a55-0d4c2b9e7f10/cancel?reason=stuck&force=true&all=1' }],
    ['dropped query', { url: '/jobs/5b0e8d2a-3c1f-4f7e-9a55-0d4c2b9e7f10/cancel' }],
    ['literal plus for a space', { url: '/jobs/5b0e8d2a-3c1f-4f7e-9a55-0d4c2b9e7f10/cancel?reason=stuck%2B&force=true' }],
  ] as const)('refuses a request whose %s differs from what was signed', async (_what, change) => {
    await expectCode(verifyOptions(sign(), change), 'SIGNATURE_INVALID');
  });

  it('refuses a timestamp 301 s old or 301 s in the future with SIGNATURE_EXPIRED, before looking up the key', async () => {
    for (const skew of [-301, 301]) {
      let lookups = 0;
      const header = sign({ now: new Date((NOW_S + skew) * 1000) });
      await expectCode(
        verifyOptions(header, {
          publicKeyFor: async () => {
            lookups += 1;
            return alicePublic;
          },
        }),
        'SIGNATURE_EXPIRED',
      );
      expect(lookups).toBe(0);
    }
  });

  it('refuses a signature made by another key for the same key id', async () => {
    await expectCode(verifyOptions(sign({ privateKey: mallory.privateKeyPem })), 'SIGNATURE_INVALID');
  });

  it('refuses an unknown key id exactly like a bad signature', async () => {
    const unknown = await expectCode(verifyOptions(sign({ keyId: 'ak_nobody' })), 'SIGNATURE_INVALID');
    const badSig = await expectCode(verifyOptions(sign({ privateKey: mallory.privateKeyPem })), 'SIGNATURE_INVALID');
    expect(unknown.message).toBe(badSig.message);
    expect(unknown.details).toEqual(badSig.details);
  });

  it('refuses a changed key id (the key id is inside the signed string)', async () => {
    const header = sign().replace(`keyId=${KEY_ID}`, 'keyId=ak_test_02');
    await expectCode(verifyOptions(header, { publicKeyFor: async () => alicePublic }), 'SIGNATURE_INVALID');
  });

  it('refuses a flipped bit in the signature and a changed nonce or timestamp', async () => {
    const header = sign();
    await expectCode(verifyOptions(withSig(header, (sig) => flipBits(sig, 10, 0x04))), 'SIGNATURE_INVALID');
    const fields = parseSignatureHeader(header);
    await expectCode(verifyOptions(header.replace(fields.nonce, 'BBBBBBBBBBBBBBBBBBBBBB')), 'SIGNATURE_INVALID');
    await expectCode(verifyOptions(header.replace(`ts=${fields.ts}`, `ts=${fields.ts - 1}`)), 'SIGNATURE_INVALID');
  });

  it('refuses a key registered with the wrong type instead of trusting it', async () => {
    await expectCode(verifyOptions(sign(), { publicKeyFor: async () => createPrivateKey(alice.privateKeyPem) }), 'SIGNATURE_INVALID');
  });

  it('answers SIGNATURE_REQUIRED for a missing or empty header', async () => {
    await expectCode(verifyOptions(undefined), 'SIGNATURE_REQUIRED');
    await expectCode(verifyOptions(''), 'SIGNATURE_REQUIRED');
    await expectCode(verifyOptions([]), 'SIGNATURE_REQUIRED');
  });

  it.each([
    ['garbage', 'hello'],
    ['duplicated field', (h: string) => `${h},nonce=CCCCCCCCCCCCCCCCCCCCCC`],
    ['unknown field', (h: string) => `${h},alg=ed25519`],
    ['missing field', (h: string) => h.replace(/,nonce=[^,]+/, '')],
    ['space after a comma', (h: string) => h.replace(',ts=', ', ts=')],
    ['padded signature', (h: string) => `${h}==`],
    [
      'standard base64 signature',
      (h: string) => h.replace(/sig=.*/, `sig=${Buffer.alloc(64, 0xfb).toString('base64').replace(/=+$/, '')}`),
    ],
    [
      'non-canonical base64url (stray low bits)',
      (h: string) => h.replace(/sig=(.{85})(.)/, (_m, head: string, last: string) => `sig=${head}${B64URL[B64URL.indexOf(last) | 1]}`),
    ],
    ['63-byte signature', (h: string) => h.replace(/sig=.*/, `sig=${Buffer.alloc(63, 7).toString('base64url')}`)],
    ['leading zero in ts', (h: string) => h.replace('ts=', 'ts=0')],
    ['short nonce', (h: string) => h.replace(/nonce=[^,]+/, 'nonce=abc')],
    ['nonce outside base64url', (h: string) => h.replace(/nonce=[^,]+/, 'nonce=AAAAAAAAAAAAAAAAAAAA+/')],
    ['field name in another case', (h: string) => h.replace('keyId=', 'keyid=')],
    ['key id with a newline', (h: string) => h.replace(`keyId=${KEY_ID}`, `keyId=${KEY_ID}\nPOST`)],
  ] as const)('answers SIGNATURE_INVALID for a malformed header (%s), without touching the nonce store', async (_what, make) => {
    const good = sign();
    const header = typeof make === 'string' ? make : make(good);
    expect(header).not.toBe(good);
    const nonceStore = new CountingNonceStore();
    const err = await expectCode(verifyOptions(header, { nonceStore }), 'SIGNATURE_INVALID');
    expect(err.details[0]?.message).toMatch(/malformed x-cp-signature header/);
    expect(nonceStore.calls).toBe(0);
  });

  it('answers SIGNATURE_INVALID when the header is sent twice', async () => {
    const header = sign();
    await expectCode(verifyOptions([header, header]), 'SIGNATURE_INVALID');
    // Node joins repeated headers with ", ": that is refused too.
    await expectCode(verifyOptions(`${header}, ${header}`), 'SIGNATURE_INVALID');
  });

  it('does not consume the nonce when the signature is bad, so the genuine request still goes through', async () => {
    const genuine = sign();
    const { nonce } = parseSignatureHeader(genuine);
    const forged = sign({ privateKey: mallory.privateKeyPem, nonce });
    const nonceStore = new CountingNonceStore();
    await expectCode(verifyOptions(forged, { nonceStore }), 'SIGNATURE_INVALID');
    await expectCode(verifyOptions(genuine, { nonceStore, body: Buffer.from('{}') }), 'SIGNATURE_INVALID');
    expect(nonceStore.calls).toBe(0);
    await expect(verifyRequestSignature(verifyOptions(genuine, { nonceStore }))).resolves.toEqual({ keyId: KEY_ID });
    expect(nonceStore.calls).toBe(1);
  });

  it('keeps the nonce for as long as the timestamp could still pass the window', async () => {
    const ttls: number[] = [];
    const nonceStore: NonceStore = {
      checkAndStore: async (_k, _n, ttl) => {
        ttls.push(ttl);
        return true;
      },
    };
    await verifyRequestSignature(verifyOptions(sign({ now: new Date((NOW_S + 300) * 1000) }), { nonceStore }));
    await verifyRequestSignature(verifyOptions(sign({ now: new Date((NOW_S - 300) * 1000) }), { nonceStore }));
    expect(ttls).toEqual([601, 1]);
  });

  it('refuses to sign with a key that is not Ed25519 or a nonce outside the alphabet', () => {
    expect(() => sign({ privateKey: createPublicKey(alice.publicKeyPem) })).toThrow(/Ed25519 private key/);
    expect(() => sign({ nonce: 'short' })).toThrow(/nonce/);
    expect(() => sign({ url: 'https://example.com/jobs' })).toThrow(/start with/);
    expect(() => sign({ url: '/jobs/%zz/cancel' })).toThrow(/two hex digits/);
  });
});

describe('canonical form', () => {
  it('normalises percent-encoding in the path per segment and keeps encoded slashes distinct', () => {
    expect(canonicalPath('/a%2db/%7euser/x y/%c3%A9/é')).toBe('/a-b/~user/x%20y/%C3%A9/%C3%A9');
    expect(canonicalPath('/a%2fb')).toBe('/a%2Fb');
    expect(canonicalPath('/a%2fb')).not.toBe(canonicalPath('/a/b'));
    expect(canonicalPath('/')).toBe('/');
  });

  it('sorts the query by name then value and encodes it per RFC 3986', () => {
    expect(canonicalQuery('b=2&a=z&a=y&c&&d=%41+b%2B')).toBe('a=y&a=z&b=2&c=&d=A%20b%2B');
    expect(canonicalQuery('')).toBe('');
  });

  it('builds the eight-line string', () => {
    expect(
      canonicalRequestString({ method: 'delete', url: '/x?b=1&a=2', body: '', keyId: 'k1', timestamp: 5, nonce: 'abcdefghijklmnop' }),
    ).toBe(
      [
        'CP-SIG-V1',
        'DELETE',
        '/x',
        'a=2&b=1',
        'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        '5',
        'abcdefghijklmnop',
        'k1',
      ].join('\n'),
    );
  });
});

describe('in-memory nonce store', () => {
  it('expires entries after their ttl and keeps nonces of different keys apart', async () => {
    let now = 1_000_000;
    const store = new InMemoryNonceStore({ clock: () => now });
    expect(await store.checkAndStore('k1', 'n', 10)).toBe(true);
    expect(await store.checkAndStore('k1', 'n', 10)).toBe(false);
    expect(await store.checkAndStore('k2', 'n', 10)).toBe(true);
    now += 9_999;
    expect(await store.checkAndStore('k1', 'n', 10)).toBe(false);
    now += 1;
    expect(await store.checkAndStore('k1', 'n', 10)).toBe(true);
  });

  it('stays bounded: when full of live nonces it refuses with OVERLOADED instead of forgetting one', async () => {
    let now = 0;
    const store = new InMemoryNonceStore({ maxEntries: 3, clock: () => now });
    for (const n of ['a', 'b', 'c']) expect(await store.checkAndStore('k', n, 60)).toBe(true);
    const err = await store.checkAndStore('k', 'd', 60).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('OVERLOADED');
    expect((err as AppError).retryAfter).toBe(60);
    expect(await store.checkAndStore('k', 'a', 60)).toBe(false);
    expect(store.size).toBe(3);
    now += 60_000;
    expect(await store.checkAndStore('k', 'd', 60)).toBe(true);
    expect(store.size).toBe(1);
  });
});

describe('docs/request-signing.md worked example', () => {
  const doc = readFileSync(new URL('../../../docs/request-signing.md', import.meta.url), 'utf8');
  const block = (name: string): string => {
    const match = new RegExp(`<!-- example:${name} -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\``).exec(doc);
    if (!match?.[1]) throw new Error(`docs/request-signing.md has no example:${name} block`);
    return match[1];
  };
  const request = JSON.parse(block('request')) as { method: string; url: string; keyId: string; timestamp: number; nonce: string };
  const body = block('body');
  const privateKey = `${block('private-key')}\n`;
  const publicKey = createPublicKey(`${block('public-key')}\n`);

  it('the private key is the RFC 8032 test vector 1 key and matches the documented public key', () => {
    const jwk = createPrivateKey(privateKey).export({ format: 'jwk' });
    expect(Buffer.from(jwk.d ?? '', 'base64url').toString('hex')).toBe('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    expect(createPublicKey(privateKey).export({ format: 'jwk' }).x).toBe(publicKey.export({ format: 'jwk' }).x);
    expect(Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url').toString('hex')).toBe(
      'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    );
  });

  it('produces exactly the documented canonical string and header', () => {
    expect(Buffer.byteLength(body)).toBe(28);
    expect(canonicalRequestString({ ...request, body })).toBe(block('canonical'));
    const header = signRequest({ ...request, body, privateKey, now: new Date(request.timestamp * 1000), nonce: request.nonce });
    expect(header).toBe(block('header'));
  });

  it('the documented header verifies against the documented public key, once', async () => {
    const options: VerifyRequestOptions = {
      method: request.method.toUpperCase(),
      url: request.url,
      body: Buffer.from(body),
      header: block('header'),
      publicKeyFor: async (id) => (id === request.keyId ? publicKey : undefined),
      nonceStore: new InMemoryNonceStore(),
      now: new Date((request.timestamp + 42) * 1000),
    };
    await expect(verifyRequestSignature(options)).resolves.toEqual({ keyId: request.keyId });
    await expectCode(options, 'SIGNATURE_REPLAYED');
  });
});
