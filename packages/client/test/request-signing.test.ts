// The client's own CP-SIG-V1 signer against the normative document and the gateway's verifier:
// the client does not depend on the platform package, so nothing else keeps the two in step.
import { readFileSync } from 'node:fs';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalRequest, signRequest } from '@controlplane/client';
import { canonicalRequestString, generateSigningKeyPair, InMemoryNonceStore, verifyRequestSignature } from '@controlplane/platform';

const doc = readFileSync(new URL('../../../docs/request-signing.md', import.meta.url), 'utf8');
function block(name: string): string {
  const m = new RegExp(`<!-- example:${name} -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\``).exec(doc);
  if (!m?.[1]) throw new Error(`docs/request-signing.md has no example:${name} block`);
  return m[1];
}

describe('client request signing (CP-SIG-V1)', () => {
  it('reproduces the worked example of docs/request-signing.md byte for byte', () => {
    const req = JSON.parse(block('request')) as { method: string; url: string; keyId: string; timestamp: number; nonce: string };
    const body = block('body');
    expect(
      canonicalRequest({ method: req.method, target: req.url, body, keyId: req.keyId, timestamp: req.timestamp, nonce: req.nonce }),
    ).toBe(block('canonical'));
    const header = signRequest(
      { keyId: req.keyId, privateKey: block('private-key') },
      { method: req.method, target: req.url, body, now: new Date(req.timestamp * 1000), nonce: req.nonce },
    );
    expect(header).toBe(block('header'));
  });

  it('builds the same canonical string as the gateway for awkward targets', () => {
    const targets = [
      '/jobs',
      '/jobs/abc/cancel',
      '/a%2db/c%2Fd',
      '/admin/api-keys?tenant=acme&limit=5',
      '/x?b=2&a=1&a=0',
      '/x?q=a+b&r=a%20b&s=%2B',
      '/ünïcode/路径?k=värde',
      '/x?flag&&empty=',
      "/x/~._-!$'()*,;=:@",
    ];
    for (const target of targets) {
      const fields = { keyId: 'key-1', timestamp: 1_700_000_000, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' };
      const body = randomBytes(32).toString('base64');
      expect(canonicalRequest({ method: 'post', target, body, ...fields }), target).toBe(
        canonicalRequestString({ method: 'post', url: target, body, ...fields }),
      );
    }
  });

  it('signs requests the gateway verifier accepts, and the verifier refuses a tampered body or a replay', async () => {
    const pair = generateSigningKeyPair();
    const nonceStore = new InMemoryNonceStore();
    const body = JSON.stringify({ name: 'ci', role: 'submitter' });
    const header = signRequest({ keyId: 'k1', privateKey: pair.privateKeyPem }, { method: 'POST', target: '/admin/api-keys', body });
    const publicKeyFor = async (id: string) => (id === 'k1' ? createPublicKey(pair.publicKeyPem) : undefined);
    await expect(
      verifyRequestSignature({ method: 'POST', url: '/admin/api-keys', body, header, publicKeyFor, nonceStore }),
    ).resolves.toEqual({ keyId: 'k1' });
    await expect(
      verifyRequestSignature({ method: 'POST', url: '/admin/api-keys', body, header, publicKeyFor, nonceStore }),
    ).rejects.toMatchObject({ code: 'SIGNATURE_REPLAYED' });
    const fresh = signRequest({ keyId: 'k1', privateKey: pair.privateKeyPem }, { method: 'POST', target: '/admin/api-keys', body });
    await expect(
      verifyRequestSignature({
        method: 'POST',
        url: '/admin/api-keys',
        body: body.replace('submitter', 'admin'),
        header: fresh,
        publicKeyFor,
        nonceStore,
      }),
    ).rejects.toMatchObject({ code: 'SIGNATURE_INVALID' });
  });

  it('refuses what has no canonical form and keys that are not Ed25519', () => {
    const { privateKeyPem } = generateSigningKeyPair();
    expect(() => signRequest({ keyId: 'k1', privateKey: privateKeyPem }, { method: 'POST', target: '/a%zz' })).toThrow(/two hex digits/);
    expect(() => signRequest({ keyId: 'k 1', privateKey: privateKeyPem }, { method: 'POST', target: '/a' })).toThrow(/keyId/);
    expect(() => signRequest({ keyId: 'k1', privateKey: privateKeyPem }, { method: 'POST', target: 'a' })).toThrow(/start with/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    expect(() => signRequest({ keyId: 'k1', privateKey: ec }, { method: 'POST', target: '/a' })).toThrow(/Ed25519/);
  });
});
