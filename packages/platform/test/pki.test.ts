import { X509Certificate, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InternalError, type InternalErrorCode } from '@controlplane/contracts';
import {
  KEY_ALGORITHMS,
  buildSpiffeId,
  createCertificateAuthority,
  createKeyPairAndCsr,
  initPki,
  inspectCertificate,
  issueCertificate,
  loadCertificateAuthority,
  parseSpiffeId,
  signCsr,
  type CertificateAuthority,
  type KeyAlgorithm,
} from '@controlplane/platform';
// After the platform import, which installs the Reflect shim @peculiar/x509 needs. Used only to
// read certificates independently and to forge the requests an attacker would send.
import * as x509 from '@peculiar/x509';

const TD = 'example.test';
const tempDirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cp-pki-'));
  tempDirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

async function expectPkiError(promise: Promise<unknown> | (() => unknown), code: InternalErrorCode): Promise<InternalError> {
  let caught: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(InternalError);
  expect((caught as InternalError).code).toBe(code);
  return caught as InternalError;
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

describe('SPIFFE ids', () => {
  it('builds and parses service, runner and client ids', () => {
    for (const kind of ['service', 'runner', 'client'] as const) {
      const uri = buildSpiffeId(TD, kind, 'a-1_b.c');
      expect(uri).toBe(`spiffe://${TD}/${kind}/a-1_b.c`);
      expect(parseSpiffeId(uri)).toEqual({ trustDomain: TD, kind, id: 'a-1_b.c' });
    }
  });

  it.each([
    ['uppercase trust domain', 'spiffe://Example.test/service/gateway'],
    ['uppercase scheme', 'SPIFFE://example.test/service/gateway'],
    ['other scheme', 'https://example.test/service/gateway'],
    ['query', 'spiffe://example.test/service/gateway?x=1'],
    ['fragment', 'spiffe://example.test/service/gateway#x'],
    ['dot-dot id', 'spiffe://example.test/service/..'],
    ['dot-dot inside id', 'spiffe://example.test/runner/a..b'],
    ['dot id', 'spiffe://example.test/service/.'],
    ['traversal segments', 'spiffe://example.test/service/../runner/x'],
    ['port', 'spiffe://example.test:8443/service/gateway'],
    ['user info', 'spiffe://user@example.test/service/gateway'],
    ['percent-encoding', 'spiffe://example.test/service/gate%2Fway'],
    ['empty id', 'spiffe://example.test/service/'],
    ['no path', 'spiffe://example.test'],
    ['extra segment', 'spiffe://example.test/service/gateway/extra'],
    ['trailing slash', 'spiffe://example.test/service/gateway/'],
    ['unknown kind', 'spiffe://example.test/admin/root'],
    ['empty trust domain', 'spiffe:///service/gateway'],
    ['double dot in trust domain', 'spiffe://example..test/service/gateway'],
    ['leading dot in trust domain', 'spiffe://.example.test/service/gateway'],
    ['space in id', 'spiffe://example.test/service/gate way'],
    ['non-ASCII id', 'spiffe://example.test/service/gatéway'],
    ['overlong id', `spiffe://example.test/service/${'a'.repeat(129)}`],
  ])('rejects %s', async (_name, uri) => {
    await expectPkiError(() => parseSpiffeId(uri), 'CP_PKI_SPIFFE_ID_INVALID');
  });

  it('refuses to build ids that would not parse', async () => {
    await expectPkiError(() => buildSpiffeId('Bad.Domain', 'service', 'x'), 'CP_PKI_SPIFFE_TRUST_DOMAIN_INVALID');
    await expectPkiError(() => buildSpiffeId(TD, 'runner', '../x'), 'CP_PKI_SPIFFE_ID_INVALID');
    await expectPkiError(() => buildSpiffeId(TD, 'admin' as 'service', 'x'), 'CP_PKI_SPIFFE_KIND_UNKNOWN');
  });
});

describe.each(KEY_ALGORITHMS)('certificate authority (%s)', (algorithm: KeyAlgorithm) => {
  let ca: CertificateAuthority;
  beforeAll(async () => {
    ca = await createCertificateAuthority({ trustDomain: TD, algorithm, validityDays: 30 });
  });

  it('creates a self-signed CA limited to signing leaves', async () => {
    const cert = new x509.X509Certificate(ca.certPem);
    expect(cert.subject).toBe(`CN=ControlPlane CA ${TD}`);
    expect(cert.issuer).toBe(cert.subject);
    expect(await cert.verify({ signatureOnly: true })).toBe(true);
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    expect(bc).toMatchObject({ ca: true, pathLength: 0, critical: true });
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    expect(ku?.critical).toBe(true);
    expect(ku?.usages).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    const days = (cert.notAfter.getTime() - cert.notBefore.getTime()) / 86_400_000;
    expect(days).toBe(30);
    const key = createPrivateKey(ca.keyPem);
    expect(key.asymmetricKeyType).toBe(algorithm === 'Ed25519' ? 'ed25519' : 'ec');
    expect(new X509Certificate(ca.certPem).checkPrivateKey(key)).toBe(true);
    expect(inspectCertificate(ca.certPem)).toMatchObject({ isCa: true, spiffeId: `spiffe://${TD}`, trustDomain: TD });
  });

  it('issues a runner leaf with one SPIFFE URI SAN, tenant and pool in the subject', async () => {
    const spiffeId = buildSpiffeId(TD, 'runner', 'r-1');
    const issued = await issueCertificate(ca, {
      spiffeId,
      tenantId: 'tenant-a',
      pool: 'gpu',
      dnsNames: ['runner.local'],
      ipAddresses: ['10.0.0.7', '::1'],
      validityMs: 60 * 60 * 1000,
    });
    const cert = new x509.X509Certificate(issued.certPem);
    expect(cert.subjectName.getField('CN')).toEqual(['runner:r-1']);
    expect(cert.subjectName.getField('O')).toEqual(['tenant-a']);
    expect(cert.subjectName.getField('OU')).toEqual(['gpu']);
    const names = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON() ?? [];
    expect(names.filter((n) => n.type === 'url')).toEqual([{ type: 'url', value: spiffeId }]);
    expect(names.filter((n) => n.type === 'dns').map((n) => n.value)).toEqual(['runner.local']);
    expect(names.filter((n) => n.type === 'ip')).toHaveLength(2);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.serverAuth,
      x509.ExtendedKeyUsage.clientAuth,
    ]);
    expect(cert.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(await cert.verify({ publicKey: new x509.X509Certificate(ca.certPem).publicKey, signatureOnly: true })).toBe(true);

    const node = new X509Certificate(issued.certPem);
    expect(node.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
    expect(issued.keyPem).toBeDefined();
    expect(node.checkPrivateKey(createPrivateKey(issued.keyPem as string))).toBe(true);
    expect(issued.serialNumber).toMatch(/^[0-9A-F]{32}$/);
    expect(node.serialNumber.toUpperCase()).toBe(issued.serialNumber);
    expect(inspectCertificate(issued.certPem)).toMatchObject({
      spiffeId,
      isCa: false,
      serialNumber: issued.serialNumber,
      fingerprint256: node.fingerprint256,
    });
  });

  it('gives every certificate a distinct random serial', async () => {
    const spiffeId = buildSpiffeId(TD, 'service', 'gateway');
    const serials = await Promise.all(Array.from({ length: 8 }, () => issueCertificate(ca, { spiffeId }).then((c) => c.serialNumber)));
    expect(new Set(serials).size).toBe(8);
  });

  it('certifies a given public key without returning any private key', async () => {
    const { publicKey } = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const spki = createPublicKey({ key: Buffer.from(await webcrypto.subtle.exportKey('spki', publicKey)), format: 'der', type: 'spki' });
    const issued = await issueCertificate(ca, {
      spiffeId: buildSpiffeId(TD, 'client', 'ops'),
      publicKey: spki.export({ type: 'spki', format: 'pem' }) as string,
    });
    expect(issued.keyPem).toBeUndefined();
    expect(new X509Certificate(issued.certPem).publicKey.export({ type: 'spki', format: 'der' })).toEqual(
      spki.export({ type: 'spki', format: 'der' }),
    );
  });

  it('refuses identities outside its trust domain and unsafe subject values', async () => {
    await expectPkiError(issueCertificate(ca, { spiffeId: 'spiffe://other.test/service/gateway' }), 'CP_PKI_TRUST_DOMAIN_MISMATCH');
    await expectPkiError(issueCertificate(ca, { spiffeId: `spiffe://${TD}/service/..` }), 'CP_PKI_SPIFFE_ID_INVALID');
    await expectPkiError(
      issueCertificate(ca, { spiffeId: buildSpiffeId(TD, 'runner', 'r'), tenantId: 'a,O=admin' }),
      'CP_PKI_ISSUANCE_PARAMETERS_INVALID',
    );
    await expectPkiError(
      issueCertificate(ca, { spiffeId: buildSpiffeId(TD, 'runner', 'r'), dnsNames: ['bad name'] }),
      'CP_PKI_ISSUANCE_PARAMETERS_INVALID',
    );
    await expectPkiError(
      issueCertificate(ca, { spiffeId: buildSpiffeId(TD, 'runner', 'r'), ipAddresses: ['999.1.1.1'] }),
      'CP_PKI_ISSUANCE_PARAMETERS_INVALID',
    );
  });

  it('never issues a leaf that outlives the CA', async () => {
    const issued = await issueCertificate(ca, { spiffeId: buildSpiffeId(TD, 'service', 'gateway'), validityMs: 365 * 86_400_000 });
    expect(issued.notAfter.getTime()).toBe(new x509.X509Certificate(ca.certPem).notAfter.getTime());
  });

  it('signs a CSR with the requester key, under the identity the server chose', async () => {
    const { keyPem, csrPem } = await createKeyPairAndCsr({ commonName: 'my-runner', algorithm });
    const signed = await signCsr(ca, csrPem, {
      spiffeId: buildSpiffeId(TD, 'runner', 'r-9'),
      validityMs: 15 * 60 * 1000,
      tenantId: 't1',
      pool: 'default',
    });
    const node = new X509Certificate(signed.certPem);
    expect(node.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(inspectCertificate(signed.certPem)).toMatchObject({
      spiffeId: `spiffe://${TD}/runner/r-9`,
      subject: 'CN=runner:r-9, O=t1, OU=default',
    });
    expect(signed.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(15 * 60 * 1000);
    expect(signed.notAfter.getTime() - Date.now()).toBeGreaterThan(14 * 60 * 1000);
  });
});

describe('signCsr against hostile requests', () => {
  let ca: CertificateAuthority;
  const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  beforeAll(async () => {
    ca = await createCertificateAuthority({ trustDomain: TD });
  });

  async function forgeCsr(extensions: x509.Extension[], name = 'CN=admin, O=tenant-root'): Promise<x509.Pkcs10CertificateRequest> {
    const keys = await webcrypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
    return x509.Pkcs10CertificateRequestGenerator.create({ name, keys, signingAlgorithm: ecdsa, extensions });
  }

  it('ignores the SANs, subject and CA request a CSR asks for', async () => {
    const csr = await forgeCsr([
      new x509.SubjectAlternativeNameExtension([
        { type: 'url', value: `spiffe://${TD}/service/jobforge` },
        { type: 'dns', value: 'jobforge.internal' },
        { type: 'ip', value: '127.0.0.1' },
      ]),
      new x509.BasicConstraintsExtension(true, 5, true),
    ]);
    const signed = await signCsr(ca, csr.toString('pem'), {
      spiffeId: buildSpiffeId(TD, 'runner', 'r-1'),
      validityMs: 60_000,
      tenantId: 't1',
    });
    const summary = inspectCertificate(signed.certPem);
    expect(summary).toMatchObject({
      spiffeId: `spiffe://${TD}/runner/r-1`,
      dnsNames: [],
      ipAddresses: [],
      isCa: false,
      subject: 'CN=runner:r-1, O=t1',
    });
    const cert = new x509.X509Certificate(signed.certPem);
    expect(cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.map((n) => n.value)).toEqual([`spiffe://${TD}/runner/r-1`]);
    // The certified key is still the requester's.
    expect(Buffer.from(cert.publicKey.rawData)).toEqual(Buffer.from(csr.publicKey.rawData));
  });

  it('refuses a CSR whose signature does not verify (tampered subject)', async () => {
    const csr = await forgeCsr([], 'CN=runner-aaaa');
    const der = Buffer.from(csr.rawData);
    const at = der.indexOf(Buffer.from('runner-aaaa'));
    expect(at).toBeGreaterThan(0);
    der[at + 7] = 'b'.charCodeAt(0);
    const tampered = new x509.Pkcs10CertificateRequest(der).toString('pem');
    await expectPkiError(
      signCsr(ca, tampered, { spiffeId: buildSpiffeId(TD, 'runner', 'r-1'), validityMs: 60_000 }),
      'CP_PKI_CSR_SIGNATURE_INVALID',
    );
  });

  it('refuses a CSR whose public key was swapped for another one', async () => {
    const victim = await forgeCsr([], 'CN=victim');
    const attacker = await forgeCsr([], 'CN=victim');
    // Same-length keys (P-256), so the attacker's key can be spliced into the victim's signed request.
    const der = Buffer.from(victim.rawData);
    const victimKey = Buffer.from(victim.publicKey.rawData);
    const at = der.indexOf(victimKey);
    expect(at).toBeGreaterThan(0);
    Buffer.from(attacker.publicKey.rawData).copy(der, at);
    const spliced = new x509.Pkcs10CertificateRequest(der).toString('pem');
    await expectPkiError(
      signCsr(ca, spliced, { spiffeId: buildSpiffeId(TD, 'runner', 'r-1'), validityMs: 60_000 }),
      'CP_PKI_CSR_SIGNATURE_INVALID',
    );
  });

  it('refuses garbage and keys of unsupported algorithms', async () => {
    await expectPkiError(
      signCsr(ca, 'not a csr', { spiffeId: buildSpiffeId(TD, 'runner', 'r'), validityMs: 60_000 }),
      'CP_PKI_CSR_NOT_PEM',
    );
    await expectPkiError(
      signCsr(ca, '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', {
        spiffeId: buildSpiffeId(TD, 'runner', 'r'),
        validityMs: 60_000,
      }),
      'CP_PKI_CSR_UNREADABLE',
    );
    const rsa = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
    const keys = await webcrypto.subtle.generateKey(rsa, true, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=rsa', keys, signingAlgorithm: rsa });
    await expectPkiError(
      signCsr(ca, csr.toString('pem'), { spiffeId: buildSpiffeId(TD, 'runner', 'r'), validityMs: 60_000 }),
      'CP_PKI_KEY_TYPE_UNSUPPORTED',
    );
  });

  it('refuses an identity from another trust domain even for a valid CSR', async () => {
    const { csrPem } = await createKeyPairAndCsr({ commonName: 'x' });
    await expectPkiError(
      signCsr(ca, csrPem, { spiffeId: 'spiffe://other.test/runner/r', validityMs: 60_000 }),
      'CP_PKI_TRUST_DOMAIN_MISMATCH',
    );
  });
});

describe('initPki', () => {
  it('writes a CA and service certificates with private keys readable by the owner only', async () => {
    const dir = join(tempDir(), 'pki');
    const result = await initPki({ dir, trustDomain: TD });
    expect(mode(dir)).toBe(0o700);
    expect(result.services.map((s) => s.name)).toEqual(['gateway', 'jobforge', 'truthcore']);
    for (const file of ['ca.key', 'gateway.key', 'jobforge.key', 'truthcore.key']) expect(mode(join(dir, file)), file).toBe(0o600);
    for (const file of ['ca.crt', 'gateway.crt', 'jobforge.crt', 'truthcore.crt']) expect(mode(join(dir, file)), file).toBe(0o644);

    const caCert = new X509Certificate(readFileSync(join(dir, 'ca.crt')));
    for (const s of result.services) {
      const summary = inspectCertificate(readFileSync(s.certFile, 'utf8'));
      expect(summary.spiffeId).toBe(`spiffe://${TD}/service/${s.name}`);
      expect(summary.dnsNames).toEqual(['localhost']);
      expect(summary.ipAddresses).toHaveLength(2);
      const cert = new X509Certificate(readFileSync(s.certFile));
      expect(cert.checkIssued(caCert) && cert.verify(caCert.publicKey)).toBe(true);
      expect(cert.checkPrivateKey(createPrivateKey(readFileSync(s.keyFile)))).toBe(true);
      expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
      expect(cert.checkIP('::1')).toBeDefined();
    }
    expect(result.ca.fingerprint256).toBe(caCert.fingerprint256);
  });

  it('refuses to overwrite an existing PKI without force, and replaces it with force', async () => {
    const dir = tempDir();
    const first = await initPki({ dir, trustDomain: TD, services: ['jobforge'] });
    const before = readFileSync(join(dir, 'ca.key'), 'utf8');
    const err = await expectPkiError(initPki({ dir, trustDomain: TD, services: ['jobforge'] }), 'CP_PKI_ALREADY_EXISTS');
    expect(err.message).toContain('ca.crt');
    expect(readFileSync(join(dir, 'ca.key'), 'utf8')).toBe(before);

    const second = await initPki({ dir, trustDomain: TD, services: ['jobforge'], force: true });
    expect(second.ca.fingerprint256).not.toBe(first.ca.fingerprint256);
    expect(readFileSync(join(dir, 'ca.key'), 'utf8')).not.toBe(before);
    expect(mode(join(dir, 'ca.key'))).toBe(0o600);
    expect(mode(join(dir, 'jobforge.key'))).toBe(0o600);
  });

  it('refuses even when only the CA key is left over', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ca.key'), 'old key', { mode: 0o600 });
    await expectPkiError(initPki({ dir, trustDomain: TD }), 'CP_PKI_ALREADY_EXISTS');
    expect(readFileSync(join(dir, 'ca.key'), 'utf8')).toBe('old key');
    expect(existsSync(join(dir, 'ca.crt'))).toBe(false);
  });

  it('validates its inputs before writing anything', async () => {
    const dir = join(tempDir(), 'pki');
    await expectPkiError(initPki({ dir, trustDomain: 'Not.Valid' }), 'CP_PKI_SPIFFE_TRUST_DOMAIN_INVALID');
    await expectPkiError(initPki({ dir, trustDomain: TD, services: ['ca'] }), 'CP_PKI_ISSUANCE_PARAMETERS_INVALID');
    await expectPkiError(initPki({ dir, trustDomain: TD, services: ['../escape'] }), 'CP_PKI_SPIFFE_ID_INVALID');
    await expectPkiError(initPki({ dir, trustDomain: TD, algorithm: 'RSA' as KeyAlgorithm }), 'CP_PKI_KEY_ALGORITHM_UNSUPPORTED');
    expect(existsSync(dir)).toBe(false);
  });

  it('loads the CA back, and the loaded CA issues certificates that chain to it', async () => {
    const dir = tempDir();
    await initPki({ dir, trustDomain: TD, algorithm: 'Ed25519', services: [] });
    const ca = await loadCertificateAuthority(dir);
    expect(ca.trustDomain).toBe(TD);
    const issued = await issueCertificate(ca, { spiffeId: buildSpiffeId(TD, 'runner', 'r') });
    expect(new X509Certificate(issued.certPem).verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
  });

  it('says how to create a CA when there is none, and refuses a CA whose key does not match', async () => {
    const empty = tempDir();
    const missing = await expectPkiError(loadCertificateAuthority(empty), 'CP_PKI_CA_NOT_FOUND');
    expect(missing.message).toContain(`controlplane pki init --dir ${empty}`);

    const dir = tempDir();
    await initPki({ dir, trustDomain: TD, services: [] });
    const other = await createCertificateAuthority({ trustDomain: TD });
    writeFileSync(join(dir, 'ca.key'), other.keyPem);
    await expectPkiError(loadCertificateAuthority(dir), 'CP_PKI_CA_KEY_MISMATCH');

    const leafDir = tempDir();
    const leaf = await issueCertificate(other, { spiffeId: buildSpiffeId(TD, 'service', 'x') });
    writeFileSync(join(leafDir, 'ca.crt'), leaf.certPem);
    writeFileSync(join(leafDir, 'ca.key'), leaf.keyPem as string);
    await expectPkiError(loadCertificateAuthority(leafDir), 'CP_PKI_CA_NOT_A_CA');
  });
});
