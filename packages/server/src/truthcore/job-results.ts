import { createHash, X509Certificate } from 'node:crypto';
import { AppError, EvidencePacket, FailRequest, JobResult, parseOrThrow, TenantId, verifyEvidencePacket } from '@controlplane/contracts';
import { resultDigest, verifyJobResult, type Logger } from '@controlplane/platform';
import { z } from 'zod';
import { type Database, withTenant } from '../storage/index.js';
import { toMillis, type NewAssertion } from './assertion-row.js';
import { RESERVED_SUBJECT_PREFIX, type AssertionService } from './assertions.js';
import { attestRunnerResult, issuedByAnchor } from './runner-attestation.js';
import type { ProvenanceRow, TruthStore } from './truth-store.js';

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** What JobForge sends for every recorded outcome (POST /v1/results). */
export const ResultDelivery = z.object({
  tenantId: TenantId,
  jobId: z.uuid(),
  attempt: z.number().int().min(1).max(1_000_000),
  fencingToken: z.string().regex(/^[0-9]{1,19}$/),
  outcome: z.enum(['completed', 'failed']),
  result: JobResult,
  requestDigest: z.string().regex(HEX_SHA256, 'must be a lowercase hex SHA-256'),
  submittedBy: z.string().min(1).max(256),
  runner: z.object({
    id: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
    certificatePem: z.string().min(1).max(16_384),
  }),
  signature: z.string().min(1).max(1024),
  evidence: EvidencePacket.optional(),
  /**
   * A failure as the runner reported and signed it (FailRequest.error). JobForge records an
   * ErrorEnvelope built from it (result.error); the signature covers the report. A producer that
   * signs the envelope itself leaves this out.
   */
  failure: FailRequest.shape.error.optional(),
});
export type ResultDelivery = z.infer<typeof ResultDelivery>;

export interface RecordedResult {
  jobId: string;
  attempt: number;
  /** True when this (tenant, job, attempt) was already recorded with the same signed outcome. */
  duplicate: boolean;
  recordedAt: string;
  /** Ids of the assertions written (empty for a duplicate). */
  assertions: string[];
}

export interface JobResultServiceOptions {
  db: Database;
  store: TruthStore;
  assertions: AssertionService;
  trustDomain: string;
  anchors: readonly X509Certificate[];
  logger: Logger;
}

/** A stable assertion id per (tenant, job, attempt, predicate): a re-delivery names the same rows. */
function derivedId(tenantId: string, jobId: string, attempt: number, predicate: string): string {
  const h = createHash('sha256').update(`truthcore/job-result/v1\n${tenantId}\n${jobId}\n${attempt}\n${predicate}`).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x80; // version 8: application-defined
  h[8] = ((h[8] as number) & 0x3f) | 0x80; // RFC 4122 variant
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/**
 * The value the runner's signature covers: data for a completion; for a failure, the runner's
 * report when there is one, else the error.
 */
function signedValue(outcome: 'completed' | 'failed', result: { data?: unknown; error?: unknown }, failure?: unknown): unknown {
  if (outcome === 'completed') return result.data;
  return failure !== undefined && failure !== null ? failure : result.error;
}

/**
 * Job outcomes with provenance. A result is stored only when the runner's signature over it
 * verifies against a certificate our CA issued to that runner of that tenant; it is then kept as
 * assertions about `job:<id>` plus a provenance row from which the signature can be re-checked.
 */
export class JobResultService {
  constructor(private readonly o: JobResultServiceOptions) {}

  async record(writer: string, body: unknown): Promise<RecordedResult> {
    const d = parseOrThrow(ResultDelivery, body);
    // The signature and the evidence hash cover what was sent, not what the schema's defaults
    // would add to it (an error envelope without `details`, an evidence item without `redacted`).
    const raw = body as {
      result: { data?: unknown; error?: unknown };
      failure?: unknown;
      evidence?: { hash: string; items: EvidencePacket['items'] };
    };
    if (d.outcome === 'completed' && !d.result.success) throw invalid('result.success', 'must be true for a completed outcome');
    if (d.outcome === 'failed' && (d.result.success || d.result.error === undefined))
      throw invalid('result.error', 'a failed outcome carries success false and an error');
    if (d.failure) {
      if (d.outcome !== 'failed') throw invalid('failure', 'only a failed outcome carries a failure report');
      // The recorded envelope must say what the signed report says (its message may be cut short).
      const e = d.result.error!;
      if (
        e.category !== d.failure.category ||
        e.retryable !== d.failure.retryable ||
        (d.failure.code !== undefined && e.code !== d.failure.code) ||
        !d.failure.message.startsWith(e.message)
      ) {
        throw invalid('result.error', 'does not match the signed failure report');
      }
    }

    const digest = resultDigest(signedValue(d.outcome, raw.result, raw.failure));
    const fields = {
      jobId: d.jobId,
      tenantId: d.tenantId,
      attempt: d.attempt,
      fencingToken: d.fencingToken,
      outcome: d.outcome,
      resultDigest: digest,
    };
    const attestation = attestRunnerResult(
      {
        certificatePem: d.runner.certificatePem,
        runnerId: d.runner.id,
        at: toMillis(d.result.metadata.completedAt),
        fields,
        signature: d.signature,
      },
      { trustDomain: this.o.trustDomain, anchors: this.o.anchors },
    );
    if (!attestation.ok) {
      this.o.logger.warn(
        { tenantId: d.tenantId, jobId: d.jobId, attempt: d.attempt, runnerId: d.runner.id, reason: attestation.reason },
        'job result refused: runner attestation failed',
      );
      throw new AppError('ENVELOPE_SIGNATURE_INVALID');
    }
    const { principal, certificate } = attestation;
    if (d.evidence && raw.evidence) {
      if (!verifyEvidencePacket(raw.evidence)) throw invalid('evidence.hash', 'is not the SHA-256 of the canonical JSON of items');
      if (d.evidence.runner !== d.runner.id && d.evidence.runner !== principal.spiffeId)
        throw invalid('evidence.runner', 'names another runner than the one that signed the result');
    }

    const at = toMillis(d.result.metadata.completedAt);
    const subject = `${RESERVED_SUBJECT_PREFIX}${d.jobId}`;
    const facts: Array<[predicate: string, object: NewAssertion['object']]> = [
      ['status', d.outcome],
      ['result', raw.result as NewAssertion['object']],
      ['runner', d.runner.id],
    ];
    if (d.evidence) facts.push(['evidence', { id: d.evidence.id, hash: d.evidence.hash }]);
    const assertions: NewAssertion[] = facts.map(([predicate, object]) => ({
      id: derivedId(d.tenantId, d.jobId, d.attempt, predicate),
      subject,
      predicate,
      object,
      confidence: 1,
      source: principal.spiffeId,
      assertedAt: at,
      expiresAt: null,
      metadata: { jobId: d.jobId, attempt: d.attempt, recordedBy: writer },
      assertedBy: principal.spiffeId,
    }));

    const outcome = await withTenant(d.tenantId, () =>
      this.o.db.transaction(async (tx) => {
        await this.o.store.lockAppends(tx, d.tenantId);
        const recordedAt = await this.o.store.insertProvenance(tx, {
          tenantId: d.tenantId,
          jobId: d.jobId,
          attempt: d.attempt,
          fencingToken: d.fencingToken,
          outcome: d.outcome,
          submittedBy: d.submittedBy,
          requestDigest: d.requestDigest,
          result: raw.result,
          resultDigest: digest,
          runnerId: d.runner.id,
          runnerSpiffeId: principal.spiffeId,
          runnerCertSerial: principal.serialNumber,
          runnerCertFingerprint: principal.fingerprint256,
          runnerCertPem: certificate.toString(),
          signature: d.signature,
          evidence: raw.evidence ?? null,
          evidenceHash: d.evidence?.hash ?? null,
          failure: raw.failure ?? null,
          recordedBy: writer,
        });
        if (!recordedAt) return { existing: await this.o.store.getProvenance(tx, d.tenantId, d.jobId, d.attempt) };
        const rows = await this.o.assertions.append(tx, d.tenantId, assertions);
        return { rows, recordedAt };
      }),
    );

    if ('existing' in outcome) {
      const e = outcome.existing;
      if (!e) throw new Error(`provenance of ${d.jobId}/${d.attempt} neither inserted nor found`);
      // A re-delivery (outbox retry) carries the same signed outcome; anything else under the same
      // attempt is a second, different result for one lease, which fencing says cannot be.
      if (e.signature !== d.signature || e.result_digest !== digest || e.outcome !== d.outcome || e.fencing_token !== d.fencingToken) {
        throw new AppError('IDEMPOTENCY_CONFLICT', { params: { id: `${d.jobId}/attempt/${d.attempt}` } });
      }
      return { jobId: d.jobId, attempt: d.attempt, duplicate: true, recordedAt: e.recorded_at.toISOString(), assertions: [] };
    }
    this.o.assertions.notifyAppended(d.tenantId);
    this.o.logger.info(
      { tenantId: d.tenantId, jobId: d.jobId, attempt: d.attempt, runnerId: d.runner.id, outcome: d.outcome },
      'job result recorded',
    );
    return {
      jobId: d.jobId,
      attempt: d.attempt,
      duplicate: false,
      recordedAt: outcome.recordedAt.toISOString(),
      assertions: outcome.rows.map((r) => r.id),
    };
  }

  /** Every recorded outcome of the job with its provenance, each signature checked again now. */
  async provenance(tenantId: string, jobId: string): Promise<{ jobId: string; records: ProvenanceView[] }> {
    return withTenant(tenantId, async () => {
      const rows = await this.o.store.listProvenance(this.o.db, tenantId, jobId);
      if (rows.length === 0) throw new AppError('JOB_NOT_FOUND', { params: { jobId } });
      return { jobId, records: rows.map((r) => this.#view(r)) };
    });
  }

  #view(r: ProvenanceRow): ProvenanceView {
    const stored = r.result as { data?: unknown; error?: unknown };
    const digest = resultDigest(signedValue(r.outcome, stored, r.failure));
    let certificate: X509Certificate | undefined;
    try {
      certificate = new X509Certificate(r.runner_cert_pem);
    } catch {
      certificate = undefined;
    }
    // Re-derived from the stored row: a result edited after it was recorded no longer matches
    // the digest, and a stored digest edited to match no longer matches the signature.
    const signatureValid =
      certificate !== undefined &&
      digest === r.result_digest &&
      verifyJobResult(
        {
          jobId: r.job_id,
          tenantId: r.tenant_id,
          attempt: r.attempt,
          fencingToken: r.fencing_token,
          outcome: r.outcome,
          resultDigest: digest,
        },
        certificate.publicKey,
        r.signature,
      );
    const evidence = r.evidence as { hash: string; items: EvidencePacket['items'] } | null;
    return {
      attempt: r.attempt,
      outcome: r.outcome,
      fencingToken: r.fencing_token,
      submittedBy: r.submitted_by,
      recordedBy: r.recorded_by,
      recordedAt: r.recorded_at.toISOString(),
      requestDigest: r.request_digest,
      resultDigest: r.result_digest,
      result: r.result,
      ...(r.failure !== null && r.failure !== undefined ? { failure: r.failure } : {}),
      runner: {
        id: r.runner_id,
        spiffeId: r.runner_spiffe_id,
        certificate: {
          serialNumber: r.runner_cert_serial,
          fingerprint256: r.runner_cert_fingerprint,
          subject: certificate?.subject ?? null,
          issuer: certificate?.issuer ?? null,
          notBefore: certificate ? new Date(certificate.validFrom).toISOString() : null,
          notAfter: certificate ? new Date(certificate.validTo).toISOString() : null,
          pem: r.runner_cert_pem,
          trusted: certificate !== undefined && issuedByAnchor(certificate, this.o.anchors),
        },
      },
      signature: r.signature,
      signatureValid,
      evidence: evidence
        ? { packet: evidence, hash: r.evidence_hash, hashValid: r.evidence_hash === evidence.hash && verifyEvidencePacket(evidence) }
        : null,
    };
  }
}

export interface ProvenanceView {
  attempt: number;
  outcome: 'completed' | 'failed';
  fencingToken: string;
  submittedBy: string;
  recordedBy: string;
  recordedAt: string;
  requestDigest: string;
  resultDigest: string;
  result: unknown;
  /** A failure's report as the runner signed it. */
  failure?: unknown;
  runner: {
    id: string;
    spiffeId: string;
    certificate: {
      serialNumber: string;
      fingerprint256: string;
      subject: string | null;
      issuer: string | null;
      notBefore: string | null;
      notAfter: string | null;
      pem: string;
      /** Issued by one of the CAs this TruthCore trusts now. */
      trusted: boolean;
    };
  };
  signature: string;
  /** The stored signature verifies over the stored result, re-checked on every read. */
  signatureValid: boolean;
  evidence: { packet: unknown; hash: string | null; hashValid: boolean } | null;
}

function invalid(path: string, message: string): AppError {
  return new AppError('VALIDATION_FAILED', { details: [{ path: path.split('.'), message }] });
}
