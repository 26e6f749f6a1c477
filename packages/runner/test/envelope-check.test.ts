import { describe, expect, it } from 'vitest';
import { canonicalHash, type JobEnvelope } from '@controlplane/contracts';
import { createCertificateAuthority, issueCertificate, signJobEnvelopes } from '@controlplane/platform';
import { checkEnvelopeBatch, envelopeFields } from '@controlplane/runner';
import { X509Certificate, createPrivateKey } from 'node:crypto';

describe('checkEnvelopeBatch (a runner refuses tampered envelopes)', async () => {
  const ca = await createCertificateAuthority({ trustDomain: 'env.test' });
  const jf = await issueCertificate(ca, { spiffeId: 'spiffe://env.test/service/jobforge' });
  const other = await issueCertificate(ca, { spiffeId: 'spiffe://env.test/service/truthcore' });
  const jobforgeKey = new X509Certificate(jf.certPem).publicKey;

  const envelope = (i: number, tenantId = 't1'): JobEnvelope => {
    const payload = { type: 'echo', version: '1.0.0', data: { i }, options: {} };
    return {
      jobId: `00000000-0000-4000-8000-00000000000${i}`,
      tenantId,
      type: 'echo',
      attempt: 1,
      leaseId: `10000000-0000-4000-8000-00000000000${i}`,
      fencingToken: String(100 + i),
      leaseExpiresAt: '2030-01-01T00:00:00.000Z',
      timeoutMs: 1000,
      deadline: '2030-01-01T00:00:01.000Z',
      payload,
      priority: 50,
      payloadDigest: canonicalHash(payload),
    };
  };
  const sign = (jobs: JobEnvelope[], keyPem = jf.keyPem!) => signJobEnvelopes(jobs.map(envelopeFields), createPrivateKey(keyPem));

  it('accepts a batch signed by JobForge', () => {
    const jobs = [envelope(1), envelope(2)];
    const res = checkEnvelopeBatch(jobs, sign(jobs), { jobforgeKey, tenantId: 't1' });
    expect(res.accepted.map((j) => j.jobId)).toEqual(jobs.map((j) => j.jobId));
    expect(res.refused).toEqual([]);
  });

  it('refuses the whole batch when any signed field was changed', () => {
    const jobs = [envelope(1), envelope(2)];
    const sig = sign(jobs);
    for (const tamper of [
      (j: JobEnvelope) => ({ ...j, fencingToken: '999' }),
      (j: JobEnvelope) => ({ ...j, attempt: 2 }),
      (j: JobEnvelope) => ({ ...j, type: 'admin.task' }),
      (j: JobEnvelope) => ({ ...j, deadline: '2031-01-01T00:00:00.000Z' }),
    ]) {
      const res = checkEnvelopeBatch([tamper(jobs[0]!), jobs[1]!], sig, { jobforgeKey, tenantId: 't1' });
      expect(res.accepted).toEqual([]);
      expect(res.refused.map((r) => r.reason)).toEqual(['signature', 'signature']);
    }
  });

  it('refuses a payload swapped under an intact signature', () => {
    const jobs = [envelope(1)];
    const sig = sign(jobs);
    const swapped = { ...jobs[0]!, payload: { ...jobs[0]!.payload, data: { rm: '-rf /' } } };
    const res = checkEnvelopeBatch([swapped], sig, { jobforgeKey, tenantId: 't1' });
    expect(res.refused).toEqual([{ envelope: swapped, reason: 'payload_digest' }]);
  });

  it('refuses a batch signed by another key, an unsigned batch, and another tenant', () => {
    const jobs = [envelope(1)];
    expect(checkEnvelopeBatch(jobs, sign(jobs, other.keyPem!), { jobforgeKey, tenantId: 't1' }).refused[0]?.reason).toBe('signature');
    expect(checkEnvelopeBatch(jobs, undefined, { jobforgeKey, tenantId: 't1' }).refused[0]?.reason).toBe('signature');
    const foreign = [envelope(3, 't2')];
    expect(checkEnvelopeBatch(foreign, sign(foreign), { jobforgeKey, tenantId: 't1' }).refused[0]?.reason).toBe('tenant');
  });
});
