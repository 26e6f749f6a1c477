import type { KeyObject } from 'node:crypto';
import { canonicalHash, type JobEnvelope } from '@controlplane/contracts';
import { verifyJobEnvelopes, type EnvelopeSignatureFields } from '@controlplane/platform';

export interface RefusedEnvelope {
  envelope: JobEnvelope;
  reason: 'signature' | 'tenant' | 'payload_digest';
}

export function envelopeFields(e: JobEnvelope): EnvelopeSignatureFields {
  return {
    jobId: e.jobId,
    tenantId: e.tenantId,
    type: e.type,
    attempt: e.attempt,
    leaseId: e.leaseId,
    fencingToken: e.fencingToken,
    payloadDigest: e.payloadDigest ?? '',
    deadline: e.deadline,
  };
}

/**
 * Splits a claimed batch into envelopes safe to run and envelopes to refuse. A batch whose
 * signature (by JobForge's key) does not verify is refused whole; an envelope for another tenant
 * or whose payload does not hash to its signed digest is refused on its own.
 */
export function checkEnvelopeBatch(
  jobs: readonly JobEnvelope[],
  signature: string | undefined,
  o: { jobforgeKey: KeyObject; tenantId: string },
): { accepted: JobEnvelope[]; refused: RefusedEnvelope[] } {
  const batchOk =
    typeof signature === 'string' && jobs.length > 0 && verifyJobEnvelopes(jobs.map(envelopeFields), o.jobforgeKey, signature);
  const accepted: JobEnvelope[] = [];
  const refused: RefusedEnvelope[] = [];
  for (const envelope of jobs) {
    if (!batchOk) refused.push({ envelope, reason: 'signature' });
    else if (envelope.tenantId !== o.tenantId) refused.push({ envelope, reason: 'tenant' });
    else if (envelope.payloadDigest !== canonicalHash(envelope.payload)) refused.push({ envelope, reason: 'payload_digest' });
    else accepted.push(envelope);
  }
  return { accepted, refused };
}
