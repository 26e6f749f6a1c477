import { AppError } from '@controlplane/contracts';
import type { Sql } from '../storage/index.js';
import type { AssertionRow, NewAssertion } from './assertion-row.js';

const ASSERTION_COLUMNS = `tenant_id, id, seq, subject, predicate, object, confidence, source, asserted_at, expires_at, metadata, asserted_by, recorded_at`;

// Two-key advisory locks live in their own key space, apart from single-bigint locks such as the
// migration lock; this class id ("tc") names TruthCore's per-tenant append lock.
const APPEND_LOCK_CLASS = 0x7463;

/** Row filter shared by a page and its count: everything but the cursor, order and window. */
export interface AssertionFilter {
  subject?: string | undefined;
  predicate?: string | undefined;
  objectHash?: Buffer | undefined;
  minConfidence?: number | undefined;
  sources?: readonly string[] | undefined;
  before?: Date | undefined;
  after?: Date | undefined;
}

export interface AssertionPage {
  /** Keyset position: rows strictly after this (in answer order: newest first). */
  cursor?: { assertedAt: Date; id: string } | undefined;
  limit: number;
  offset: number;
}

export interface ProvenanceRecord {
  tenantId: string;
  jobId: string;
  attempt: number;
  fencingToken: string;
  outcome: 'completed' | 'failed';
  submittedBy: string;
  requestDigest: string;
  result: unknown;
  resultDigest: string;
  runnerId: string;
  runnerSpiffeId: string;
  runnerCertSerial: string;
  runnerCertFingerprint: string;
  runnerCertPem: string;
  signature: string;
  evidence: unknown;
  evidenceHash: string | null;
  recordedBy: string;
}

export interface ProvenanceRow {
  tenant_id: string;
  job_id: string;
  attempt: number;
  fencing_token: string;
  outcome: 'completed' | 'failed';
  submitted_by: string;
  request_digest: string;
  result: unknown;
  result_digest: string;
  runner_id: string;
  runner_spiffe_id: string;
  runner_cert_serial: string;
  runner_cert_fingerprint: string;
  runner_cert_pem: string;
  signature: string;
  evidence: unknown;
  evidence_hash: string | null;
  recorded_by: string;
  recorded_at: Date;
}

const PROVENANCE_COLUMNS = `tenant_id, job_id, attempt, fencing_token, outcome, submitted_by, request_digest, result, result_digest,
  runner_id, runner_spiffe_id, runner_cert_serial, runner_cert_fingerprint, runner_cert_pem, signature, evidence, evidence_hash,
  recorded_by, recorded_at`;

/**
 * PostgreSQL refuses a NUL character in text and jsonb; that is the caller's input, not our
 * fault, so it is answered as a validation error rather than an internal one.
 */
function inputError(err: unknown): never {
  const code = (err as { code?: unknown }).code;
  if (code === '22P05' || code === '22021') {
    throw new AppError('VALIDATION_FAILED', { cause: err, details: [{ message: 'text may not contain the NUL character (\\u0000)' }] });
  }
  if (code === '23503') throw new AppError('AUTHENTICATION_FAILED', { cause: err, message: 'The tenant is not known.' });
  throw err;
}

function where(tenantId: string, f: AssertionFilter, values: unknown[]): string[] {
  values.push(tenantId);
  const clauses = ['tenant_id = $1', '(expires_at is null or expires_at > now())'];
  if (f.subject !== undefined) clauses.push(`subject = $${values.push(f.subject)}`);
  if (f.predicate !== undefined) clauses.push(`predicate = $${values.push(f.predicate)}`);
  if (f.objectHash !== undefined) clauses.push(`object_hash = $${values.push(f.objectHash)}`);
  if (f.minConfidence !== undefined && f.minConfidence > 0) clauses.push(`confidence >= $${values.push(f.minConfidence)}`);
  if (f.sources !== undefined) clauses.push(`source = any($${values.push(f.sources)}::text[])`);
  if (f.before !== undefined) clauses.push(`asserted_at < $${values.push(f.before)}`);
  if (f.after !== undefined) clauses.push(`asserted_at > $${values.push(f.after)}`);
  return clauses;
}

/**
 * All SQL of TruthCore. Every statement is scoped by tenant; assertions are append-only (no
 * statement here updates or deletes one).
 */
export class TruthStore {
  /**
   * Serialises appends within a tenant until the transaction ends, so seq values become visible
   * in order (see the migration). Cheap: appends are a few short statements.
   */
  async lockAppends(tx: Sql, tenantId: string): Promise<void> {
    await tx.query('select pg_advisory_xact_lock($1::int, hashtext($2))', [APPEND_LOCK_CLASS, tenantId]);
  }

  /** Inserts the assertions that do not exist yet; returns the rows actually inserted. */
  async insertAssertions(tx: Sql, tenantId: string, assertions: readonly NewAssertion[], objectHashes: readonly Buffer[]): Promise<AssertionRow[]> {
    if (assertions.length === 0) return [];
    try {
      const res = await tx.query<AssertionRow>(
        `insert into truth_assertions (tenant_id, id, subject, predicate, object, object_hash, confidence, source, asserted_at, expires_at, metadata, asserted_by)
         select $1, t.id, t.subject, t.predicate, t.object -> 'v', decode(t.object_hash, 'hex'), t.confidence, t.source, t.asserted_at, t.expires_at, t.metadata, t.asserted_by
           from jsonb_to_recordset($2::jsonb) as t(id uuid, subject text, predicate text, object jsonb, object_hash text, confidence double precision,
                source text, asserted_at timestamptz, expires_at timestamptz, metadata jsonb, asserted_by text)
         on conflict (tenant_id, id) do nothing
         returning ${ASSERTION_COLUMNS}`,
        [
          tenantId,
          JSON.stringify(
            assertions.map((a, i) => ({
              id: a.id,
              subject: a.subject,
              predicate: a.predicate,
              // Boxed: jsonb_to_recordset turns a JSON null field into SQL NULL, and `null` is a valid object.
              object: { v: a.object },
              object_hash: objectHashes[i]?.toString('hex'),
              confidence: a.confidence,
              source: a.source,
              asserted_at: a.assertedAt.toISOString(),
              expires_at: a.expiresAt?.toISOString() ?? null,
              metadata: a.metadata,
              asserted_by: a.assertedBy,
            })),
          ),
        ],
      );
      return res.rows;
    } catch (err) {
      return inputError(err);
    }
  }

  /** The stored assertion, expired or not (idempotency compares against it). */
  async getAssertion(q: Sql, tenantId: string, id: string): Promise<AssertionRow | undefined> {
    const res = await q.query<AssertionRow>(`select ${ASSERTION_COLUMNS} from truth_assertions where tenant_id = $1 and id = $2`, [tenantId, id]);
    return res.rows[0];
  }

  /** The assertion unless it has expired. */
  async getLiveAssertion(q: Sql, tenantId: string, id: string): Promise<AssertionRow | undefined> {
    const res = await q.query<AssertionRow>(
      `select ${ASSERTION_COLUMNS} from truth_assertions where tenant_id = $1 and id = $2 and (expires_at is null or expires_at > now())`,
      [tenantId, id],
    );
    return res.rows[0];
  }

  /** One page, newest `timestamp` first (ties broken by id), live assertions only. */
  async queryAssertions(q: Sql, tenantId: string, f: AssertionFilter, page: AssertionPage): Promise<AssertionRow[]> {
    const values: unknown[] = [];
    const clauses = where(tenantId, f, values);
    if (page.cursor) clauses.push(`(asserted_at, id) < ($${values.push(page.cursor.assertedAt)}, $${values.push(page.cursor.id)}::uuid)`);
    const res = await q.query<AssertionRow>(
      `select ${ASSERTION_COLUMNS} from truth_assertions where ${clauses.join(' and ')}
        order by asserted_at desc, id desc limit $${values.push(page.limit)} offset $${values.push(page.offset)}`,
      values,
    );
    return res.rows;
  }

  /**
   * Counts matching live assertions, but reads at most `cap + 1` of them: the count walks the same
   * index as the page, and the bound keeps a very common pattern from costing a full index scan.
   * Returns `cap + 1` when there are more than `cap`.
   */
  async countAssertions(q: Sql, tenantId: string, f: AssertionFilter, cap: number): Promise<number> {
    const values: unknown[] = [];
    const clauses = where(tenantId, f, values);
    const res = await q.query<{ n: number }>(
      `select count(*)::int as n from (select 1 from truth_assertions where ${clauses.join(' and ')} limit $${values.push(cap + 1)}) m`,
      values,
    );
    return res.rows[0]?.n ?? 0;
  }

  /** The highest seq of the tenant (0 when none): where a new subscription starts. */
  async headSeq(q: Sql, tenantId: string): Promise<string> {
    const res = await q.query<{ head: string }>(`select coalesce(max(seq), 0) as head from truth_assertions where tenant_id = $1`, [tenantId]);
    return res.rows[0]?.head ?? '0';
  }

  /** Live assertions with after < seq <= upTo matching the pattern, in seq order. */
  async assertionsAfter(q: Sql, tenantId: string, after: string, upTo: string, pattern: { subject?: string | undefined; predicate?: string | undefined }, limit: number): Promise<AssertionRow[]> {
    const values: unknown[] = [tenantId, after, upTo];
    const clauses = ['tenant_id = $1', 'seq > $2::bigint', 'seq <= $3::bigint', '(expires_at is null or expires_at > now())'];
    if (pattern.subject !== undefined) clauses.push(`subject = $${values.push(pattern.subject)}`);
    if (pattern.predicate !== undefined) clauses.push(`predicate = $${values.push(pattern.predicate)}`);
    const res = await q.query<AssertionRow>(
      `select ${ASSERTION_COLUMNS} from truth_assertions where ${clauses.join(' and ')} order by seq limit $${values.push(limit)}`,
      values,
    );
    return res.rows;
  }

  /** Inserts the provenance of (tenant, job, attempt) unless it exists; its recorded_at when inserted. */
  async insertProvenance(tx: Sql, p: ProvenanceRecord): Promise<Date | undefined> {
    try {
      const res = await tx.query<{ recorded_at: Date }>(
        `insert into truth_job_provenance (tenant_id, job_id, attempt, fencing_token, outcome, submitted_by, request_digest, result, result_digest,
           runner_id, runner_spiffe_id, runner_cert_serial, runner_cert_fingerprint, runner_cert_pem, signature, evidence, evidence_hash, recorded_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14, $15, $16::jsonb, $17, $18)
         on conflict (tenant_id, job_id, attempt) do nothing
         returning recorded_at`,
        [
          p.tenantId,
          p.jobId,
          p.attempt,
          p.fencingToken,
          p.outcome,
          p.submittedBy,
          p.requestDigest,
          // Always as JSON text: a bare string or array would otherwise be sent as a PostgreSQL value.
          JSON.stringify(p.result),
          p.resultDigest,
          p.runnerId,
          p.runnerSpiffeId,
          p.runnerCertSerial,
          p.runnerCertFingerprint,
          p.runnerCertPem,
          p.signature,
          p.evidence === null || p.evidence === undefined ? null : JSON.stringify(p.evidence),
          p.evidenceHash,
          p.recordedBy,
        ],
      );
      return res.rows[0]?.recorded_at;
    } catch (err) {
      return inputError(err);
    }
  }

  async getProvenance(q: Sql, tenantId: string, jobId: string, attempt: number): Promise<ProvenanceRow | undefined> {
    const res = await q.query<ProvenanceRow>(`select ${PROVENANCE_COLUMNS} from truth_job_provenance where tenant_id = $1 and job_id = $2 and attempt = $3`, [tenantId, jobId, attempt]);
    return res.rows[0];
  }

  async listProvenance(q: Sql, tenantId: string, jobId: string): Promise<ProvenanceRow[]> {
    const res = await q.query<ProvenanceRow>(`select ${PROVENANCE_COLUMNS} from truth_job_provenance where tenant_id = $1 and job_id = $2 order by attempt`, [tenantId, jobId]);
    return res.rows;
  }
}
