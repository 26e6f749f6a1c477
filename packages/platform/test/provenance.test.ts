import { describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  createKeyPairAndCsr,
  resultDigest,
  signCsr,
  signJobEnvelope,
  signJobResult,
  signJobResults,
  verifyJobEnvelope,
  verifyJobResult,
  type ResultSignatureFields,
} from '@controlplane/platform';

describe.each(['ECDSA-P256', 'Ed25519'] as const)('provenance signatures (%s)', (algorithm) => {
  it('a runner result signature verifies against its certificate and nothing else', async () => {
    const ca = await createCertificateAuthority({ trustDomain: 'prov.test', algorithm });
    const runner = await createKeyPairAndCsr({ commonName: 'r1', algorithm });
    const cert = await signCsr(ca, runner.csrPem, { spiffeId: 'spiffe://prov.test/runner/r1', validityMs: 60_000 });
    const other = await createKeyPairAndCsr({ commonName: 'r2', algorithm });
    const otherCert = await signCsr(ca, other.csrPem, { spiffeId: 'spiffe://prov.test/runner/r2', validityMs: 60_000 });

    const fields: ResultSignatureFields = {
      jobId: 'j1',
      tenantId: 't1',
      attempt: 2,
      fencingToken: '41',
      outcome: 'completed',
      resultDigest: resultDigest({ b: 2, a: 1 }),
    };
    const sig = signJobResult(fields, runner.keyPem);
    expect(sig).toMatch(/^v1\./);
    expect(verifyJobResult(fields, cert.certPem, sig)).toBe(true);
    expect(verifyJobResult({ ...fields, resultDigest: resultDigest({ a: 1, b: 3 }) }, cert.certPem, sig)).toBe(false);
    expect(verifyJobResult({ ...fields, fencingToken: '42' }, cert.certPem, sig)).toBe(false);
    expect(verifyJobResult({ ...fields, tenantId: 't2' }, cert.certPem, sig)).toBe(false);
    expect(verifyJobResult(fields, otherCert.certPem, sig)).toBe(false);
    expect(verifyJobResult(fields, cert.certPem, 'v1.AAAA')).toBe(false);
    expect(verifyJobResult(fields, cert.certPem, 'garbage')).toBe(false);
    // key order in the value does not matter: the digest is over canonical JSON
    expect(resultDigest({ a: 1, b: 2 })).toBe(fields.resultDigest);
  });

  it('an envelope signature cannot be replayed as a result signature', async () => {
    const ca = await createCertificateAuthority({ trustDomain: 'prov.test', algorithm });
    const jf = await createKeyPairAndCsr({ commonName: 'jobforge', algorithm });
    const cert = await signCsr(ca, jf.csrPem, { spiffeId: 'spiffe://prov.test/service/jobforge', validityMs: 60_000 });
    const env = {
      jobId: 'j1',
      tenantId: 't1',
      type: 'echo',
      attempt: 1,
      leaseId: 'l1',
      fencingToken: '7',
      payloadDigest: resultDigest({}),
      deadline: '2026-01-01T00:00:00.000Z',
    };
    const sig = signJobEnvelope(env, jf.keyPem);
    expect(verifyJobEnvelope(env, cert.certPem, sig)).toBe(true);
    expect(verifyJobEnvelope({ ...env, payloadDigest: resultDigest({ x: 1 }) }, cert.certPem, sig)).toBe(false);
    expect(verifyJobEnvelope({ ...env, attempt: 2 }, cert.certPem, sig)).toBe(false);
    expect(
      verifyJobResult(
        { jobId: 'j1', tenantId: 't1', attempt: 1, fencingToken: '7', outcome: 'completed', resultDigest: resultDigest({}) },
        cert.certPem,
        sig,
      ),
    ).toBe(false);
  });
});

describe('batched result signatures (Merkle root signed once)', async () => {
  const ca = await createCertificateAuthority({ trustDomain: 'prov.test', algorithm: 'Ed25519' });
  const runner = await createKeyPairAndCsr({ commonName: 'r1', algorithm: 'Ed25519' });
  const cert = await signCsr(ca, runner.csrPem, { spiffeId: 'spiffe://prov.test/runner/r1', validityMs: 60_000 });
  const other = await createKeyPairAndCsr({ commonName: 'r2', algorithm: 'Ed25519' });
  const otherCert = await signCsr(ca, other.csrPem, { spiffeId: 'spiffe://prov.test/runner/r2', validityMs: 60_000 });
  const { X509Certificate } = await import('node:crypto');
  const key = new X509Certificate(cert.certPem).publicKey;
  const items = (n: number): ResultSignatureFields[] =>
    Array.from({ length: n }, (_, i) => ({
      jobId: `job-${i}`,
      tenantId: 't1',
      attempt: 1,
      fencingToken: String(1000 + i),
      outcome: 'completed' as const,
      resultDigest: resultDigest({ i }),
    }));

  it.each([1, 2, 3, 5, 8, 250])('every item of a batch of %i verifies on its own', (n) => {
    const batch = items(n);
    const sigs = signJobResults(batch, runner.keyPem);
    expect(sigs).toHaveLength(n);
    batch.forEach((f, i) => {
      expect(sigs[i]).toMatch(/^m1\./);
      expect(verifyJobResult(f, key, sigs[i]!)).toBe(true);
      expect(verifyJobResult(f, cert.certPem, sigs[i]!)).toBe(true); // also with the PEM (no cache)
    });
  });

  it('checks each item of a batch in full after its tree is known, whatever came first', () => {
    const batch = items(16);
    const sigs = signJobResults(batch, runner.keyPem);
    // A bad item first must not spoil the good ones that follow.
    expect(verifyJobResult({ ...batch[5]!, resultDigest: resultDigest({ i: 99 }) }, key, sigs[5]!)).toBe(false);
    for (const i of [9, 0, 15, 3, 4, 12, 1, 2, 5, 6, 7, 8, 10, 11, 13, 14]) expect(verifyJobResult(batch[i]!, key, sigs[i]!)).toBe(true);
    // Every node of the tree is now known; a proof whose own path is wrong above a known node is
    // still refused (its stored proof would not verify on its own).
    const [rootSig, index, path] = sigs[7]!.slice(3).split('.') as [string, string, string];
    const steps = path.split('~');
    const tampered = (level: number) => steps.map((h, l) => (l === level ? Buffer.alloc(32, 7).toString('base64url') : h)).join('~');
    for (const level of [0, 1, 3]) expect(verifyJobResult(batch[7]!, key, `m1.${rootSig}.${index}.${tampered(level)}`)).toBe(false);
    expect(verifyJobResult(batch[7]!, key, `m1.${rootSig}.6.${path}`)).toBe(false);
    expect(verifyJobResult(batch[7]!, key, sigs[7]!)).toBe(true);
    // The same answers without any remembered tree.
    for (const level of [0, 1, 3])
      expect(verifyJobResult(batch[7]!, cert.certPem, `m1.${rootSig}.${index}.${tampered(level)}`)).toBe(false);
  });

  it('refuses a changed item, a proof used for another item, a cut path, and another key', () => {
    const batch = items(9);
    const sigs = signJobResults(batch, runner.keyPem);
    expect(verifyJobResult({ ...batch[3]!, resultDigest: resultDigest({ i: 99 }) }, key, sigs[3]!)).toBe(false);
    expect(verifyJobResult(batch[4]!, key, sigs[3]!)).toBe(false);
    const [pfx, rest] = [sigs[3]!.slice(0, 3), sigs[3]!.slice(3)];
    const [rootSig, , path] = rest.split('.');
    expect(verifyJobResult(batch[3]!, key, `${pfx}${rootSig}.2.${path}`)).toBe(false);
    expect(verifyJobResult(batch[3]!, key, `${pfx}${rootSig}.3.${path!.split('~').slice(1).join('~')}`)).toBe(false);
    expect(verifyJobResult(batch[3]!, otherCert.certPem, sigs[3]!)).toBe(false);
    expect(verifyJobResult(batch[3]!, new X509Certificate(otherCert.certPem).publicKey, sigs[3]!)).toBe(false);
    expect(verifyJobResult(batch[3]!, key, 'm1.garbage')).toBe(false);
  });
});
