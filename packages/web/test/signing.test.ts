// The dashboard signs critical operations in the browser with WebCrypto; the gateway verifies with
// @controlplane/platform. The two canonical forms must be one: checked here on awkward requests, and
// by verifying a browser-made header exactly as the gateway does (Node's WebCrypto stands in for the browser's).
import { describe, expect, it } from 'vitest';
import { canonicalRequestString as contractsCanonical } from '@controlplane/contracts';
import { generateSigningKeyPair, InMemoryNonceStore, verifyRequestSignature } from '@controlplane/platform';
import { createPublicKey } from 'node:crypto';
import { canonicalRequestString, importSigningKey, signatureHeader } from '../src/signing.js';
import { readKeyFile } from '../src/key-file.js';

const REQUESTS = [
  { method: 'post', url: '/jobs/0f9e/cancel', body: undefined },
  { method: 'POST', url: '/admin/runners/r%2db%2Fc/revoke', body: '' },
  { method: 'PUT', url: '/admin/job-types/ä ö?z=1&a=b+c&a=%2B&&empty', body: '{"inputSchema":{"type":"object"},"x":"ü"}' },
  { method: 'POST', url: '/x/~._-?%7e=%41', body: '{}' },
];

describe('browser request signing', () => {
  it('builds the canonical string exactly as the contracts do', async () => {
    for (const r of REQUESTS) {
      const fields = { method: r.method, url: r.url, keyId: 'key-1', timestamp: 1_767_225_600, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' };
      expect(await canonicalRequestString({ ...fields, body: r.body })).toBe(contractsCanonical({ ...fields, body: r.body }));
    }
  });

  it('makes headers the gateway verifies, from a key file whose private key is not extractable', async () => {
    const pair = generateSigningKeyPair();
    const file = JSON.stringify({
      kind: 'controlplane-api-key',
      version: 1,
      id: 'key-1',
      key: 'cpk_x',
      signingKeyId: 'key-1',
      signingPrivateKey: pair.privateKeyPem,
    });
    const loaded = await readKeyFile(file);
    expect(loaded.signer!.key.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('pkcs8', loaded.signer!.key)).rejects.toThrow();
    const nonces = new InMemoryNonceStore();
    for (const r of REQUESTS) {
      const header = await signatureHeader(loaded.signer!, r.method, r.url, r.body);
      await expect(
        verifyRequestSignature({
          method: r.method,
          url: r.url,
          body: r.body,
          header,
          publicKeyFor: async (id) => (id === 'key-1' ? createPublicKey(pair.publicKeyPem) : undefined),
          nonceStore: nonces,
        }),
      ).resolves.toEqual({ keyId: 'key-1' });
    }
  });

  it('refuses what is not a key file or not an Ed25519 PKCS#8 key', async () => {
    await expect(readKeyFile('not json')).rejects.toThrow(/not JSON/);
    await expect(readKeyFile('{"kind":"other"}')).rejects.toThrow(/not a ControlPlane key file/);
    await expect(importSigningKey('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----')).rejects.toThrow(/PKCS#8/);
  });
});
