import { createPrivateKey, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InternalError, type InternalErrorCode } from '@controlplane/contracts';
import {
  KEY_ALGORITHMS,
  attachPeerVerification,
  buildSpiffeId,
  createCertificateAuthority,
  createMtlsAgent,
  getVerifiedPrincipal,
  initPki,
  issueCertificate,
  loadCertificateAuthority,
  loadTlsMaterial,
  mtlsClientOptions,
  mtlsServerOptions,
  principalFromSocket,
  servicePkiFiles,
  type CertificateAuthority,
  type KeyAlgorithm,
  type PeerRejection,
  type PeerVerificationOptions,
  type Principal,
  type TlsMaterial,
} from '@controlplane/platform';
// After the platform import, which installs the Reflect shim it needs. Used only to forge the
// certificates an attacker holding our CA key (or a CA shared with another domain) could make.
import * as x509 from '@peculiar/x509';

const TD = 'example.test';
const tempDirs: string[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cp-tls-'));
  tempDirs.push(dir);
  return dir;
}

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  // Leaked servers or sockets fail the test that leaked them. Destroyed sockets release their
  // handles on a later tick, so give them a moment before looking.
  let leaked: string[] = [];
  for (let i = 0; i < 50; i++) {
    leaked = process.getActiveResourcesInfo().filter((r) => /TCP|TLS/.test(r));
    if (leaked.length === 0) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(leaked, 'leaked network handles').toEqual([]);
});

afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** Writes PEM material to files and loads it the way a service does. */
function material(ca: CertificateAuthority, issued: { certPem: string; keyPem?: string }): TlsMaterial {
  const dir = tempDir();
  const files = { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'leaf.crt'), keyFile: join(dir, 'leaf.key') };
  writeFileSync(files.caFile, ca.certPem);
  writeFileSync(files.certFile, issued.certPem);
  writeFileSync(files.keyFile, issued.keyPem ?? '', { mode: 0o600 });
  return loadTlsMaterial(files);
}

async function issue(
  ca: CertificateAuthority,
  kind: 'service' | 'runner' | 'client',
  id: string,
  extra: Parameters<typeof issueCertificate>[1] | object = {},
) {
  return issueCertificate(ca, { spiffeId: buildSpiffeId(TD, kind, id), ipAddresses: ['127.0.0.1'], ...extra });
}

/** A leaf signed with the CA's key but with SANs of the attacker's choosing. */
async function forgeLeaf(ca: CertificateAuthority, uris: string[]): Promise<{ certPem: string; keyPem: string }> {
  const caKey = createPrivateKey(ca.keyPem);
  const ed = caKey.asymmetricKeyType === 'ed25519';
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    caKey.export({ type: 'pkcs8', format: 'der' }),
    ed ? { name: 'Ed25519' } : { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0badc0de',
    subject: 'CN=forged',
    issuer: new x509.X509Certificate(ca.certPem).subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
    publicKey: keys.publicKey,
    signingKey,
    signingAlgorithm: ed ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...uris.map((value) => ({ type: 'url' as const, value })),
        { type: 'ip', value: '127.0.0.1' },
      ]),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    certPem: cert.toString('pem'),
    keyPem: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

interface TestServer {
  readonly port: number;
  readonly handled: Principal[];
  readonly rejections: PeerRejection[];
  /** Server-side handshake failures, with the verification error Node recorded on the socket. */
  readonly tlsErrors: Array<{ code: string | undefined; authorizationError: string | undefined }>;
  readonly verifyCalls: Principal[];
}

async function startServer(
  serverMaterial: TlsMaterial,
  verify?: Omit<PeerVerificationOptions, 'trustDomain' | 'onReject'> | false,
): Promise<TestServer> {
  const handled: Principal[] = [];
  const rejections: PeerRejection[] = [];
  const tlsErrors: TestServer['tlsErrors'] = [];
  const verifyCalls: Principal[] = [];
  const server = https.createServer(mtlsServerOptions(serverMaterial, { trustDomain: TD }), (req, res) => {
    const principal =
      verify === false ? principalFromSocket(req.socket as tls.TLSSocket, { trustDomain: TD }) : getVerifiedPrincipal(req.socket);
    if (principal) handled.push(principal);
    req.resume();
    req.on('end', () => res.end(JSON.stringify(principal ?? null)));
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
    tlsErrors.push({
      code: err.code,
      authorizationError: socket.authorizationError === undefined ? undefined : String(socket.authorizationError),
    });
  });
  if (verify !== false) {
    const verifyPeer = verify?.verifyPeer ?? (() => true);
    attachPeerVerification(server, {
      trustDomain: TD,
      ...verify,
      verifyPeer: (p) => {
        verifyCalls.push(p);
        return verifyPeer(p);
      },
      onReject: (r) => rejections.push(r),
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as { port: number }).port, handled, rejections, tlsErrors, verifyCalls };
}

type Outcome = { ok: true; status: number; body: string } | { ok: false; code: string | undefined; error: Error };

function request(port: number, options: https.RequestOptions, body?: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/', method: body === undefined ? 'GET' : 'POST', agent: false, timeout: 10_000, ...options },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (data += c));
        res.on('end', () => resolve({ ok: true, status: res.statusCode ?? 0, body: data }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, code: err.code, error: err }));
    req.end(body);
  });
}

function expectRefused(outcome: Outcome, codes: readonly string[]): void {
  expect(outcome.ok, 'the request should have failed').toBe(false);
  if (!outcome.ok) expect(codes).toContain(outcome.code);
}

/** What an attacker sends: their own certificate, and no interest in verifying our server. */
function attackerOptions(ca: CertificateAuthority, cert?: { certPem: string; keyPem?: string }): https.RequestOptions {
  return { ca: ca.certPem, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}), checkServerIdentity: () => undefined };
}

describe.each(KEY_ALGORITHMS)('mTLS end to end with a %s CA from initPki', (algorithm: KeyAlgorithm) => {
  let ca: CertificateAuthority;
  let jobforge: TlsMaterial;
  let gateway: TlsMaterial;

  beforeAll(async () => {
    const dir = tempDir();
    await initPki({ dir, trustDomain: TD, algorithm });
    ca = await loadCertificateAuthority(dir);
    jobforge = loadTlsMaterial(servicePkiFiles(dir, 'jobforge'));
    gateway = loadTlsMaterial(servicePkiFiles(dir, 'gateway'));
  });

  it('lets a service client through and shows the server its principal', async () => {
    const server = await startServer(jobforge);
    const outcome = await request(
      server.port,
      mtlsClientOptions(gateway, { trustDomain: TD, expectedServerId: `spiffe://${TD}/service/jobforge` }),
    );
    expect(outcome).toMatchObject({ ok: true, status: 200 });
    expect(server.handled).toHaveLength(1);
    expect(server.handled[0]).toMatchObject({
      kind: 'service',
      id: 'gateway',
      trustDomain: TD,
      spiffeId: `spiffe://${TD}/service/gateway`,
    });
    expect(server.handled[0]?.tenantId).toBeUndefined();
    expect(server.handled[0]?.fingerprint256).toBe(gateway.certificate.fingerprint256);
  });

  it('lets an enrolled runner through with its tenant and pool', async () => {
    const runnerCert = await issue(ca, 'runner', 'r-1', { tenantId: 'tenant-a', pool: 'gpu', validityMs: 10 * 60_000 });
    const runner = material(ca, runnerCert);
    const server = await startServer(jobforge);
    const outcome = await request(server.port, mtlsClientOptions(runner, { trustDomain: TD }), 'payload');
    expect(outcome).toMatchObject({ ok: true, status: 200 });
    expect(server.handled).toEqual([
      expect.objectContaining({
        kind: 'runner',
        id: 'r-1',
        tenantId: 'tenant-a',
        pool: 'gpu',
        serialNumber: runnerCert.serialNumber,
        notAfter: runnerCert.notAfter,
      }),
    ]);
  });
});

describe('an mTLS server under attack', () => {
  let ca: CertificateAuthority;
  let jobforge: TlsMaterial;
  let runner: TlsMaterial;

  beforeAll(async () => {
    ca = await createCertificateAuthority({ trustDomain: TD });
    jobforge = material(ca, await issue(ca, 'service', 'jobforge'));
    runner = material(ca, await issue(ca, 'runner', 'r-1', { tenantId: 't1', pool: 'p1' }));
  });

  it('refuses a client without a certificate', async () => {
    const server = await startServer(jobforge);
    const outcome = await request(server.port, attackerOptions(ca));
    expectRefused(outcome, ['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ECONNRESET']);
    expect(server.tlsErrors.map((e) => e.code)).toEqual(['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE']);
    expect(server.handled).toEqual([]);
    expect(server.verifyCalls).toEqual([]);
  });

  it('refuses a client whose certificate comes from another CA, even with our SPIFFE id in it', async () => {
    const rogueCa = await createCertificateAuthority({ trustDomain: TD });
    const rogue = await issue(rogueCa, 'service', 'gateway');
    const server = await startServer(jobforge);
    const outcome = await request(server.port, attackerOptions(ca, rogue));
    expectRefused(outcome, ['ECONNRESET', 'EPIPE']);
    expect(server.tlsErrors.map((e) => e.authorizationError)).toEqual(['UNABLE_TO_VERIFY_LEAF_SIGNATURE']);
    expect(server.handled).toEqual([]);
    expect(server.verifyCalls).toEqual([]);
  });

  it('refuses a client with an expired certificate from our CA', async () => {
    const expired = await issue(ca, 'runner', 'r-1', {
      notBefore: new Date(Date.now() - 2 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const server = await startServer(jobforge);
    const outcome = await request(server.port, attackerOptions(ca, expired));
    expectRefused(outcome, ['ECONNRESET', 'EPIPE']);
    expect(server.tlsErrors.map((e) => e.authorizationError)).toEqual(['CERT_HAS_EXPIRED']);
    expect(server.handled).toEqual([]);
  });

  it('refuses a TLS 1.2-only client', async () => {
    const server = await startServer(jobforge);
    const outcome = await request(server.port, {
      ...mtlsClientOptions(runner, { trustDomain: TD }),
      minVersion: 'TLSv1.2',
      maxVersion: 'TLSv1.2',
    });
    expectRefused(outcome, ['EPROTO', 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION']);
    expect(server.tlsErrors.map((e) => e.code)).toEqual(['ERR_SSL_UNSUPPORTED_PROTOCOL']);
    expect(server.handled).toEqual([]);
  });

  it('cuts off a client certified by our CA for another trust domain', async () => {
    const foreign = await forgeLeaf(ca, ['spiffe://other.test/service/gateway']);
    const server = await startServer(jobforge);
    const outcome = await request(server.port, attackerOptions(ca, foreign));
    expectRefused(outcome, ['ECONNRESET', 'EPIPE']);
    // The chain verified (same CA): it is the identity check that refuses it.
    expect(server.tlsErrors).toEqual([]);
    expect(server.rejections).toHaveLength(1);
    expect(server.rejections[0]).toMatchObject({ reason: 'no-principal', remoteAddress: '127.0.0.1' });
    expect((server.rejections[0]?.error as InternalError).code).toBe('CP_TLS_PEER_TRUST_DOMAIN_MISMATCH');
    expect(server.verifyCalls).toEqual([]);
    expect(server.handled).toEqual([]);
  });

  it('cuts off a client whose certificate names two identities', async () => {
    const twoFaced = await forgeLeaf(ca, [`spiffe://${TD}/runner/r-1`, `spiffe://${TD}/service/jobforge`]);
    const server = await startServer(jobforge);
    const outcome = await request(server.port, attackerOptions(ca, twoFaced));
    expectRefused(outcome, ['ECONNRESET', 'EPIPE']);
    expect((server.rejections[0]?.error as InternalError).code).toBe('CP_TLS_PEER_IDENTITY_INVALID');
    expect(server.handled).toEqual([]);
  });

  it('gives no principal for a foreign-domain certificate on a server without the verification hook', async () => {
    const foreign = await forgeLeaf(ca, ['spiffe://other.test/runner/r-1']);
    const server = await startServer(jobforge, false);
    const outcome = await request(server.port, attackerOptions(ca, foreign));
    // TLS alone lets it in (same CA); the handler finds no principal and so has nobody to authorise.
    expect(outcome).toEqual({ ok: true, status: 200, body: 'null' });
    expect(server.handled).toEqual([]);
  });

  it('cuts the connection when verifyPeer says the certificate is revoked, and only that one', async () => {
    const revoked = await issue(ca, 'runner', 'r-2', { tenantId: 't1' });
    const revokedSerials = new Set([revoked.serialNumber]);
    const server = await startServer(jobforge, { verifyPeer: (p) => !revokedSerials.has(p.serialNumber) });

    const refused = await request(server.port, mtlsClientOptions(material(ca, revoked), { trustDomain: TD }), 'x');
    expectRefused(refused, ['ECONNRESET', 'EPIPE']);
    expect(server.rejections).toEqual([
      expect.objectContaining({ reason: 'denied', principal: expect.objectContaining({ id: 'r-2', serialNumber: revoked.serialNumber }) }),
    ]);
    expect(server.handled).toEqual([]);

    const allowed = await request(server.port, mtlsClientOptions(runner, { trustDomain: TD }), 'x');
    expect(allowed).toMatchObject({ ok: true, status: 200 });
    expect(server.handled.map((p) => p.id)).toEqual(['r-1']);
  });

  it('holds the request until an asynchronous verdict, and fails closed when the check fails or hangs', async () => {
    const slowYes = await startServer(jobforge, { verifyPeer: () => new Promise((r) => setTimeout(() => r(true), 50)) });
    // A large body sent right after the handshake is delivered intact once the peer is admitted.
    const big = 'x'.repeat(256 * 1024);
    expect(await request(slowYes.port, mtlsClientOptions(runner, { trustDomain: TD }), big)).toMatchObject({ ok: true, status: 200 });
    expect(slowYes.handled).toHaveLength(1);

    const slowNo = await startServer(jobforge, { verifyPeer: () => new Promise((r) => setTimeout(() => r(false), 50)) });
    expectRefused(await request(slowNo.port, mtlsClientOptions(runner, { trustDomain: TD }), big), ['ECONNRESET', 'EPIPE']);
    expect(slowNo.rejections.map((r) => r.reason)).toEqual(['denied']);
    expect(slowNo.handled).toEqual([]);

    const broken = await startServer(jobforge, { verifyPeer: () => Promise.reject(new Error('revocation store down')) });
    expectRefused(await request(broken.port, mtlsClientOptions(runner, { trustDomain: TD })), ['ECONNRESET', 'EPIPE']);
    expect(broken.rejections.map((r) => r.reason)).toEqual(['verify-error']);

    const throwing = await startServer(jobforge, {
      verifyPeer: () => {
        throw new Error('bug');
      },
    });
    expectRefused(await request(throwing.port, mtlsClientOptions(runner, { trustDomain: TD })), ['ECONNRESET', 'EPIPE']);
    expect(throwing.rejections.map((r) => r.reason)).toEqual(['verify-error']);

    const hanging = await startServer(jobforge, { verifyPeer: () => new Promise<boolean>(() => undefined), timeoutMs: 100 });
    expectRefused(await request(hanging.port, mtlsClientOptions(runner, { trustDomain: TD })), ['ECONNRESET', 'EPIPE']);
    expect(hanging.rejections.map((r) => r.reason)).toEqual(['verify-timeout']);
    expect(hanging.handled).toEqual([]);
  });

  it('treats a truthy non-boolean verdict as a refusal', async () => {
    const server = await startServer(jobforge, { verifyPeer: () => 'yes' as unknown as boolean });
    expectRefused(await request(server.port, mtlsClientOptions(runner, { trustDomain: TD })), ['ECONNRESET', 'EPIPE']);
    expect(server.handled).toEqual([]);
  });
});

describe('an mTLS client facing the wrong server', () => {
  let ca: CertificateAuthority;
  let gateway: TlsMaterial;
  let jobforge: TlsMaterial;

  beforeAll(async () => {
    ca = await createCertificateAuthority({ trustDomain: TD });
    gateway = material(ca, await issue(ca, 'service', 'gateway'));
    jobforge = material(ca, await issue(ca, 'service', 'jobforge'));
  });

  async function expectClientRefusal(serverMaterial: TlsMaterial, clientOptions: https.RequestOptions, code: string): Promise<void> {
    const server = await startServer(serverMaterial, false);
    const outcome = await request(server.port, clientOptions, 'secret payload');
    expectRefused(outcome, [code]);
    expect(server.handled).toEqual([]);
  }

  it('refuses a server whose SPIFFE id is not the expected one', async () => {
    const truthcore = material(ca, await issue(ca, 'service', 'truthcore'));
    await expectClientRefusal(
      truthcore,
      mtlsClientOptions(gateway, { trustDomain: TD, expectedServerId: `spiffe://${TD}/service/jobforge` }),
      'CP_TLS_PEER_REJECTED',
    );
    await expectClientRefusal(
      truthcore,
      mtlsClientOptions(gateway, { trustDomain: TD, expectedServerId: (id) => id.endsWith('/jobforge') }),
      'CP_TLS_PEER_REJECTED',
    );
  });

  it('refuses a server whose certificate comes from another CA', async () => {
    const rogueCa = await createCertificateAuthority({ trustDomain: TD });
    const rogue = material(rogueCa, await issue(rogueCa, 'service', 'jobforge'));
    // The rogue server sends its own root along with its leaf, which our client does not trust.
    await expectClientRefusal(
      rogue,
      mtlsClientOptions(gateway, { trustDomain: TD, expectedServerId: `spiffe://${TD}/service/jobforge` }),
      'SELF_SIGNED_CERT_IN_CHAIN',
    );
  });

  it('refuses a runner posing as a service when no server id is pinned', async () => {
    const runner = material(ca, await issue(ca, 'runner', 'jobforge'));
    await expectClientRefusal(runner, mtlsClientOptions(gateway, { trustDomain: TD }), 'CP_TLS_PEER_REJECTED');
  });

  it('refuses a server certified by our CA for another trust domain', async () => {
    const foreign = material(ca, await forgeLeaf(ca, ['spiffe://other.test/service/jobforge']));
    const clientOptions = mtlsClientOptions(gateway, { trustDomain: TD });
    // mtlsServerOptions itself refuses such a certificate, so serve it with raw options.
    const server = tls.createServer({ ...mtlsServerOptions(jobforge, { trustDomain: TD }), cert: foreign.cert, key: foreign.key }, (s) =>
      s.end(),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const outcome = await request((server.address() as { port: number }).port, clientOptions);
    expectRefused(outcome, ['CP_TLS_PEER_TRUST_DOMAIN_MISMATCH']);
  });

  it('accepts the expected server through a pinned keep-alive agent', async () => {
    const server = await startServer(jobforge);
    const agent = createMtlsAgent(gateway, { trustDomain: TD, expectedServerId: `spiffe://${TD}/service/jobforge` });
    cleanups.push(() => agent.destroy());
    const first = await request(server.port, { agent });
    const second = await request(server.port, { agent });
    expect(first).toMatchObject({ ok: true, status: 200 });
    expect(second).toMatchObject({ ok: true, status: 200 });
    expect(server.handled.map((p) => p.id)).toEqual(['gateway', 'gateway']);
  });
});

describe('loading mTLS material', () => {
  let ca: CertificateAuthority;
  let dir: string;

  beforeAll(async () => {
    dir = tempDir();
    await initPki({ dir, trustDomain: TD, services: ['jobforge'] });
    ca = await loadCertificateAuthority(dir);
  });

  function expectTlsError(fn: () => unknown, code: InternalErrorCode): InternalError {
    let caught: unknown;
    try {
      fn();
    } catch (err) {
      caught = err;
    }
    expect(caught, `expected ${code}`).toBeInstanceOf(InternalError);
    expect((caught as InternalError).code).toBe(code);
    return caught as InternalError;
  }

  it('builds TLS 1.3-only options that trust only our CA and require a client certificate', () => {
    const m = loadTlsMaterial(servicePkiFiles(dir, 'jobforge'));
    const server = mtlsServerOptions(m, { trustDomain: TD });
    expect(server).toMatchObject({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: true });
    expect(server.ca).toEqual([m.ca[0]]);
    expect(m.ca).toHaveLength(1);
    const client = mtlsClientOptions(m, { trustDomain: TD });
    expect(client).toMatchObject({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', rejectUnauthorized: true, ca: [m.ca[0]] });
    expect(typeof client.checkServerIdentity).toBe('function');
  });

  it('never serialises the private key', () => {
    const m = loadTlsMaterial(servicePkiFiles(dir, 'jobforge'));
    expect(m.key).toContain('PRIVATE KEY');
    expect(JSON.stringify(m)).not.toContain('PRIVATE KEY');
    expect(Object.keys(m)).not.toContain('key');
  });

  it('refuses to start without a CA and says how to create one', () => {
    const empty = tempDir();
    const err = expectTlsError(() => loadTlsMaterial(servicePkiFiles(empty, 'jobforge')), 'CP_TLS_FILE_MISSING');
    expect(err.message).toContain(`controlplane pki init --dir ${empty}`);
    expectTlsError(
      () => loadTlsMaterial({ certFile: join(dir, 'jobforge.crt'), keyFile: join(dir, 'jobforge.key') }),
      'CP_TLS_FILE_NOT_SET',
    );
  });

  it('refuses a key that does not belong to the certificate', async () => {
    const other = await issue(ca, 'service', 'jobforge');
    const d = tempDir();
    writeFileSync(join(d, 'ca.crt'), ca.certPem);
    writeFileSync(join(d, 'jobforge.crt'), readCert(dir, 'jobforge'));
    writeFileSync(join(d, 'jobforge.key'), other.keyPem as string);
    expectTlsError(() => loadTlsMaterial(servicePkiFiles(d, 'jobforge')), 'CP_TLS_KEY_MISMATCH');
  });

  it('refuses a certificate not issued by the configured CA, an expired one, and a CA file holding a leaf', async () => {
    const otherCa = await createCertificateAuthority({ trustDomain: TD });
    const foreign = await issue(otherCa, 'service', 'jobforge');
    expectTlsError(() => material(ca, foreign), 'CP_TLS_CERT_NOT_ISSUED_BY_CA');
    const expired = await issue(ca, 'service', 'jobforge', {
      notBefore: new Date(Date.now() - 2 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    expectTlsError(() => material(ca, expired), 'CP_TLS_CERT_EXPIRED');
    const leaf = await issue(ca, 'service', 'jobforge');
    expectTlsError(() => material({ certPem: leaf.certPem, keyPem: '' }, leaf), 'CP_TLS_CA_NOT_A_CA');
  });

  it('refuses to serve or dial with an identity outside the trust domain', async () => {
    const m = material(ca, await forgeLeaf(ca, ['spiffe://other.test/service/jobforge']));
    expectTlsError(() => mtlsServerOptions(m, { trustDomain: TD }), 'CP_TLS_IDENTITY_INVALID');
    const good = loadTlsMaterial(servicePkiFiles(dir, 'jobforge'));
    expectTlsError(
      () => mtlsClientOptions(good, { trustDomain: TD, expectedServerId: 'spiffe://other.test/service/jobforge' }),
      'CP_TLS_EXPECTED_SERVER_ID_FOREIGN',
    );
    expectTlsError(
      () => mtlsClientOptions(good, { trustDomain: TD, expectedServerId: 'https://jobforge' }),
      'CP_TLS_EXPECTED_SERVER_ID_INVALID',
    );
  });
});

function readCert(dir: string, name: string): string {
  return loadTlsMaterial(servicePkiFiles(dir, name)).cert;
}
