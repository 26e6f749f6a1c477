// Key files hold a bearer key and a signing private key: written 0600 from the first byte, never
// over another one, and refused when others can read them.
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InternalError, keyFileFrom, readKeyFile, writeKeyFile, type CreatedApiKey } from '@controlplane/client';

const created: CreatedApiKey = {
  id: '4d3f6a52-8f7e-4d0c-9a57-3f6f0b9f7c11',
  tenantId: 'acme',
  prefix: '0123456789abcdef',
  role: 'submitter',
  name: 'ci',
  expiresAt: null,
  revokedAt: null,
  lastUsedAt: null,
  createdBy: 'apikey:x',
  createdAt: '2030-01-01T00:00:00.000Z',
  key: `cpk_0123456789abcdef_${'B'.repeat(43)}`,
  signingKeyId: '4d3f6a52-8f7e-4d0c-9a57-3f6f0b9f7c11',
  signingPublicKey: '-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----\n',
  signingPrivateKey: '-----BEGIN PRIVATE KEY-----\n…\n-----END PRIVATE KEY-----\n',
};

describe('key files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cp-keyfile-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes 0600, reads back the credentials, and refuses to overwrite', () => {
    const file = join(dir, 'ci.json');
    writeKeyFile(file, keyFileFrom(created));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readKeyFile(file)).toEqual({
      apiKey: created.key,
      id: created.id,
      tenantId: 'acme',
      role: 'submitter',
      signingKey: { keyId: created.signingKeyId, privateKey: created.signingPrivateKey },
    });
    expect(() => writeKeyFile(file, keyFileFrom({ ...created, key: 'other' }))).toThrow(/already exists/);
    expect(JSON.parse(readFileSync(file, 'utf8')).key).toBe(created.key);
  });

  it('refuses a key file others can read, a missing one, and one that is not a key file', () => {
    const open = join(dir, 'open.json');
    writeFileSync(open, JSON.stringify(keyFileFrom(created)));
    chmodSync(open, 0o644);
    expect(() => readKeyFile(open)).toThrow(InternalError);
    expect(() => readKeyFile(open)).toThrow(expect.objectContaining({ code: 'CP_KEYFILE_INSECURE_PERMISSIONS' }));
    expect(() => readKeyFile(open)).toThrow(/readable by others .*chmod 600/);
    expect(() => readKeyFile(join(dir, 'nope.json'))).toThrow(expect.objectContaining({ code: 'CP_KEYFILE_NOT_FOUND' }));
    expect(() => readKeyFile(join(dir, 'nope.json'))).toThrow(/no key file at/);
    const other = join(dir, 'other.json');
    writeFileSync(other, '{"hello":"world"}', { mode: 0o600 });
    expect(() => readKeyFile(other)).toThrow(/not a ControlPlane key file/);
  });
});
