import { describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  createKeyPairAndCsr,
  resultDigest,
  signCsr,
  signJobEnvelope,
  signJobResult,
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

    const fields: ResultSignatureFields = { jobId: 'j1', tenantId: 't1', attempt: 2, fencingToken: '41', outcome: 'completed', resultDigest: resultDigest({ b: 2, a: 1 }) };
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
    const env = { jobId: 'j1', tenantId: 't1', type: 'echo', attempt: 1, leaseId: 'l1', fencingToken: '7', payloadDigest: resultDigest({}), deadline: '2026-01-01T00:00:00.000Z' };
    const sig = signJobEnvelope(env, jf.keyPem);
    expect(verifyJobEnvelope(env, cert.certPem, sig)).toBe(true);
    expect(verifyJobEnvelope({ ...env, payloadDigest: resultDigest({ x: 1 }) }, cert.certPem, sig)).toBe(false);
    expect(verifyJobEnvelope({ ...env, attempt: 2 }, cert.certPem, sig)).toBe(false);
    expect(verifyJobResult({ jobId: 'j1', tenantId: 't1', attempt: 1, fencingToken: '7', outcome: 'completed', resultDigest: resultDigest({}) }, cert.certPem, sig)).toBe(false);
  });
});
