import { AppError } from '@controlplane/contracts';
import type { FieldCipher, FieldValue } from '@controlplane/platform';
import {
  ASSERTION_OBJECT_INDEX_SCOPE,
  attemptRowId,
  isSensitiveAssertion,
  openSlots,
  PROVENANCE_EVIDENCE_SLOTS,
  PROVENANCE_RESULT_SLOTS,
  sealSlots,
} from '../keys/index.js';
import { ASSERTION_OBJECT_FIELD, FAILURE_REPORT_SLOTS } from '../keys/internal.js';
import type { Sql } from '../storage/index.js';
import { objectHash, type AssertionRow, type NewAssertion } from './assertion-row.js';
import { truthcoreSql as sql } from './sql.js';

const ASSERTIONS_TABLE = 'truth_assertions';
const PROVENANCE_TABLE = 'truth_job_provenance';

// object_encrypted is read to decrypt and dropped before a row leaves the store.
type StoredAssertionRow = AssertionRow & { object_encrypted?: boolean };

/** Row filter shared by a page and its count: everything but the cursor, order and window. */
export interface AssertionFilter {
  subject?: string | undefined;
  predicate?: string | undefined;
  /** The object's possible index keys (see TruthStore.objectKeys); a row matches any of them. */
  objectHashes?: readonly Buffer[] | undefined;
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
  /** A failure's report as the runner signed it (the signature covers it, not result.error). */
  failure: unknown;
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
  failure: unknown;
  recorded_by: string;
  recorded_at: Date;
}

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

/** The values of sql/truthcore/_assertion_filter.sql: every filter but the object's (null: any). */
function filterValues(tenantId: string, f: AssertionFilter) {
  return {
    tenant_id: tenantId,
    subject: f.subject ?? null,
    predicate: f.predicate ?? null,
    min_confidence: f.minConfidence !== undefined && f.minConfidence > 0 ? f.minConfidence : null,
    sources: f.sources ?? null,
    before: f.before ?? null,
    after: f.after ?? null,
  };
}

export interface TruthStoreOptions {
  /**
   * Encrypts sensitive assertion objects (metadata `sensitive: true`, a predicate in
   * `sensitivePredicates`, and every job `result`) and the results and evidence of job provenance.
   * Without it everything is stored in clear.
   */
  cipher?: FieldCipher | undefined;
  /** Predicates whose objects are always sensitive. */
  sensitivePredicates?: readonly string[] | undefined;
}

/**
 * TruthCore's storage, over the statements of sql/truthcore. Every statement is scoped by tenant;
 * assertions are append-only (no statement changes one, except the key-rotation job re-encrypting
 * an object in place).
 *
 * With a cipher, a sensitive object is stored as a ciphertext bound to its tenant and assertion id,
 * and its object_hash is the tenant's blind index (a keyed HMAC) instead of a plain SHA-256, so a
 * database dump cannot confirm a guess of the value. Reads decrypt; callers see clear objects.
 */
export class TruthStore {
  readonly cipher: FieldCipher | undefined;
  readonly #sensitive: ReadonlySet<string>;

  constructor(options: TruthStoreOptions = {}) {
    this.cipher = options.cipher;
    this.#sensitive = new Set(options.sensitivePredicates ?? []);
  }

  /**
   * The object_hash values a query for `object` must match: its SHA-256 (clear assertions) and,
   * with a cipher, its blind index (sensitive ones). The two can never collide in practice.
   */
  async objectKeys(tenantId: string, object: unknown): Promise<Buffer[]> {
    const plain = objectHash(object);
    if (!this.cipher) return [plain];
    return [plain, Buffer.from(await this.cipher.blindIndex(tenantId, object, ASSERTION_OBJECT_INDEX_SCOPE), 'hex')];
  }

  async #openAssertions(rows: StoredAssertionRow[]): Promise<AssertionRow[]> {
    return Promise.all(
      rows.map(async (row) => {
        const { object_encrypted: encrypted, ...rest } = row;
        if (!encrypted) return rest;
        // Unlike job slots, a flagged object must decrypt: no clear value is accepted in its place.
        if (!this.cipher)
          throw new Error(`assertion ${row.id} of tenant ${row.tenant_id} is encrypted, and this TruthCore has no cipher configured`);
        const object = await this.cipher.decrypt(row.object as string, {
          tenantId: row.tenant_id,
          table: ASSERTIONS_TABLE,
          rowId: row.id,
          field: ASSERTION_OBJECT_FIELD,
        });
        return { ...rest, object: object as AssertionRow['object'] };
      }),
    );
  }

  async #openProvenance(row: ProvenanceRow): Promise<ProvenanceRow> {
    if (!this.cipher) return row;
    const ref = { tenantId: row.tenant_id, table: PROVENANCE_TABLE, rowId: attemptRowId(row.job_id, row.attempt) };
    const [result, evidence, failure] = await Promise.all([
      openSlots(this.cipher, ref, row.result, PROVENANCE_RESULT_SLOTS),
      openSlots(this.cipher, ref, row.evidence, PROVENANCE_EVIDENCE_SLOTS),
      openSlots(this.cipher, ref, row.failure, FAILURE_REPORT_SLOTS),
    ]);
    return { ...row, result, evidence, failure };
  }

  /**
   * Serialises appends within a tenant until the transaction ends, so seq values become visible
   * in order (see the migration). Cheap: appends are a few short statements.
   */
  async lockAppends(tx: Sql, tenantId: string): Promise<void> {
    await sql('lock_appends').run(tx, { tenant_id: tenantId });
  }

  /** Inserts the assertions that do not exist yet; returns the rows actually inserted. */
  async insertAssertions(
    tx: Sql,
    tenantId: string,
    assertions: readonly NewAssertion[],
    objectHashes: readonly Buffer[],
  ): Promise<AssertionRow[]> {
    if (assertions.length === 0) return [];
    const stored = await Promise.all(
      assertions.map(async (a, i) => {
        const cipher = this.cipher;
        if (!cipher || !isSensitiveAssertion(a, this.#sensitive)) return { object: a.object, hash: objectHashes[i], encrypted: false };
        const aad = { tenantId, table: ASSERTIONS_TABLE, rowId: a.id, field: ASSERTION_OBJECT_FIELD };
        const [object, index] = await Promise.all([
          cipher.encrypt(a.object as FieldValue, aad),
          cipher.blindIndex(tenantId, a.object, ASSERTION_OBJECT_INDEX_SCOPE),
        ]);
        return { object, hash: Buffer.from(index, 'hex'), encrypted: true };
      }),
    );
    try {
      const res = await sql('assertion_insert').run<StoredAssertionRow>(tx, {
        tenant_id: tenantId,
        assertions: JSON.stringify(
          assertions.map((a, i) => ({
            id: a.id,
            subject: a.subject,
            predicate: a.predicate,
            // Boxed: jsonb_to_recordset turns a JSON null field into SQL NULL, and `null` is a valid object.
            object: { v: stored[i]!.object },
            object_hash: stored[i]!.hash?.toString('hex'),
            object_encrypted: stored[i]!.encrypted,
            confidence: a.confidence,
            source: a.source,
            asserted_at: a.assertedAt.toISOString(),
            expires_at: a.expiresAt?.toISOString() ?? null,
            metadata: a.metadata,
            asserted_by: a.assertedBy,
          })),
        ),
      });
      // Inserted rows hold what was sent: the clear objects are at hand, no need to decrypt them.
      const clear = new Map(assertions.map((a) => [a.id, a.object]));
      return res.rows.map(({ object_encrypted: encrypted, ...row }) =>
        encrypted ? { ...row, object: clear.get(row.id) as AssertionRow['object'] } : row,
      );
    } catch (err) {
      return inputError(err);
    }
  }

  /** The stored assertion, expired or not (idempotency compares against it). */
  async getAssertion(q: Sql, tenantId: string, id: string): Promise<AssertionRow | undefined> {
    const res = await sql('assertion_get').run<StoredAssertionRow>(q, { tenant_id: tenantId, id });
    return (await this.#openAssertions(res.rows))[0];
  }

  /** The assertion unless it has expired. */
  async getLiveAssertion(q: Sql, tenantId: string, id: string): Promise<AssertionRow | undefined> {
    const res = await sql('assertion_get_live').run<StoredAssertionRow>(q, { tenant_id: tenantId, id });
    return (await this.#openAssertions(res.rows))[0];
  }

  /** One page, newest `timestamp` first (ties broken by id), live assertions only. */
  async queryAssertions(q: Sql, tenantId: string, f: AssertionFilter, page: AssertionPage): Promise<AssertionRow[]> {
    const common = {
      ...filterValues(tenantId, f),
      cursor_at: page.cursor?.assertedAt ?? null,
      cursor_id: page.cursor?.id ?? null,
      limit: page.limit,
      offset: page.offset,
    };
    const hashes = f.objectHashes ?? [];
    const res =
      hashes.length <= 1
        ? await sql('query_assertions').run<StoredAssertionRow>(q, { ...common, object_hash: hashes[0] ?? null })
        : await sql('query_assertions_by_objects').run<StoredAssertionRow>(q, {
            ...common,
            object_hashes: hashes,
            per_key: page.limit + page.offset,
          });
    return this.#openAssertions(res.rows);
  }

  /**
   * Counts matching live assertions, but reads at most `cap + 1` of them: the count walks the same
   * index as the page, and the bound keeps a very common pattern from costing a full index scan.
   * Returns `cap + 1` when there are more than `cap`.
   */
  async countAssertions(q: Sql, tenantId: string, f: AssertionFilter, cap: number): Promise<number> {
    const res = await sql('count_assertions').run<{ n: number }>(q, {
      ...filterValues(tenantId, f),
      object_hashes: f.objectHashes?.length ? f.objectHashes : null,
      cap: cap + 1,
    });
    return res.rows[0]?.n ?? 0;
  }

  /** The highest seq of the tenant (0 when none): where a new subscription starts. */
  async headSeq(q: Sql, tenantId: string): Promise<string> {
    const res = await sql('head_seq').run<{ head: string }>(q, { tenant_id: tenantId });
    return res.rows[0]?.head ?? '0';
  }

  /** Live assertions with after < seq <= upTo matching the pattern, in seq order. */
  async assertionsAfter(
    q: Sql,
    tenantId: string,
    after: string,
    upTo: string,
    pattern: { subject?: string | undefined; predicate?: string | undefined },
    limit: number,
  ): Promise<AssertionRow[]> {
    const res = await sql('assertions_after').run<StoredAssertionRow>(q, {
      tenant_id: tenantId,
      after,
      up_to: upTo,
      subject: pattern.subject ?? null,
      predicate: pattern.predicate ?? null,
      limit,
    });
    return this.#openAssertions(res.rows);
  }

  /** Inserts the provenance of (tenant, job, attempt) unless it exists; its recorded_at when inserted. */
  async insertProvenance(tx: Sql, p: ProvenanceRecord): Promise<Date | undefined> {
    const ref = { tenantId: p.tenantId, table: PROVENANCE_TABLE, rowId: attemptRowId(p.jobId, p.attempt) };
    const [result, evidence, failure] = await Promise.all([
      sealSlots(this.cipher, ref, p.result, PROVENANCE_RESULT_SLOTS),
      sealSlots(this.cipher, ref, p.evidence, PROVENANCE_EVIDENCE_SLOTS),
      sealSlots(this.cipher, ref, p.failure, FAILURE_REPORT_SLOTS),
    ]);
    try {
      const res = await sql('provenance_insert').run<{ recorded_at: Date }>(tx, {
        tenant_id: p.tenantId,
        job_id: p.jobId,
        attempt: p.attempt,
        fencing_token: p.fencingToken,
        outcome: p.outcome,
        submitted_by: p.submittedBy,
        request_digest: p.requestDigest,
        // Always as JSON text: a bare string or array would otherwise be sent as a PostgreSQL value.
        result: JSON.stringify(result),
        result_digest: p.resultDigest,
        runner_id: p.runnerId,
        runner_spiffe_id: p.runnerSpiffeId,
        runner_cert_serial: p.runnerCertSerial,
        runner_cert_fingerprint: p.runnerCertFingerprint,
        runner_cert_pem: p.runnerCertPem,
        signature: p.signature,
        evidence: evidence === null || evidence === undefined ? null : JSON.stringify(evidence),
        evidence_hash: p.evidenceHash,
        recorded_by: p.recordedBy,
        failure: failure === null || failure === undefined ? null : JSON.stringify(failure),
      });
      return res.rows[0]?.recorded_at;
    } catch (err) {
      return inputError(err);
    }
  }

  async getProvenance(q: Sql, tenantId: string, jobId: string, attempt: number): Promise<ProvenanceRow | undefined> {
    const res = await sql('provenance_get').run<ProvenanceRow>(q, { tenant_id: tenantId, job_id: jobId, attempt });
    return res.rows[0] && this.#openProvenance(res.rows[0]);
  }

  async listProvenance(q: Sql, tenantId: string, jobId: string): Promise<ProvenanceRow[]> {
    const res = await sql('provenance_list').run<ProvenanceRow>(q, { tenant_id: tenantId, job_id: jobId });
    return Promise.all(res.rows.map((r) => this.#openProvenance(r)));
  }
}
