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

// object_encrypted is read to decrypt and dropped before a row leaves the store.
const ASSERTION_COLUMNS = `tenant_id, id, seq, subject, predicate, object, confidence, source, asserted_at, expires_at, metadata, asserted_by, recorded_at, object_encrypted`;
const ASSERTIONS_TABLE = 'truth_assertions';
const PROVENANCE_TABLE = 'truth_job_provenance';

type StoredAssertionRow = AssertionRow & { object_encrypted?: boolean };

// Two-key advisory locks live in their own key space, apart from single-bigint locks such as the
// migration lock; this class id ("tc") names TruthCore's per-tenant append lock.
const APPEND_LOCK_CLASS = 0x7463;

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

const PROVENANCE_COLUMNS = `tenant_id, job_id, attempt, fencing_token, outcome, submitted_by, request_digest, result, result_digest,
  runner_id, runner_spiffe_id, runner_cert_serial, runner_cert_fingerprint, runner_cert_pem, signature, evidence, evidence_hash,
  failure, recorded_by, recorded_at`;

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

/** Every clause but the one on object_hash, which the callers add (one value, or a list). */
function where(tenantId: string, f: AssertionFilter, values: unknown[]): string[] {
  values.push(tenantId);
  const clauses = ['tenant_id = $1', '(expires_at is null or expires_at > now())'];
  if (f.subject !== undefined) clauses.push(`subject = $${values.push(f.subject)}`);
  if (f.predicate !== undefined) clauses.push(`predicate = $${values.push(f.predicate)}`);
  if (f.minConfidence !== undefined && f.minConfidence > 0) clauses.push(`confidence >= $${values.push(f.minConfidence)}`);
  if (f.sources !== undefined) clauses.push(`source = any($${values.push(f.sources)}::text[])`);
  if (f.before !== undefined) clauses.push(`asserted_at < $${values.push(f.before)}`);
  if (f.after !== undefined) clauses.push(`asserted_at > $${values.push(f.after)}`);
  return clauses;
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
 * All SQL of TruthCore. Every statement is scoped by tenant; assertions are append-only (no
 * statement here changes one, except the key-rotation job re-encrypting an object in place).
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
    await tx.query('select pg_advisory_xact_lock($1::int, hashtext($2))', [APPEND_LOCK_CLASS, tenantId]);
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
      const res = await tx.query<StoredAssertionRow>(
        `insert into truth_assertions (tenant_id, id, subject, predicate, object, object_hash, object_encrypted, confidence, source, asserted_at, expires_at, metadata, asserted_by)
         select $1, t.id, t.subject, t.predicate, t.object -> 'v', decode(t.object_hash, 'hex'), t.object_encrypted, t.confidence, t.source, t.asserted_at, t.expires_at, t.metadata, t.asserted_by
           from jsonb_to_recordset($2::jsonb) as t(id uuid, subject text, predicate text, object jsonb, object_hash text, object_encrypted boolean, confidence double precision,
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
        ],
      );
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
    const res = await q.query<StoredAssertionRow>(`select ${ASSERTION_COLUMNS} from truth_assertions where tenant_id = $1 and id = $2`, [
      tenantId,
      id,
    ]);
    return (await this.#openAssertions(res.rows))[0];
  }

  /** The assertion unless it has expired. */
  async getLiveAssertion(q: Sql, tenantId: string, id: string): Promise<AssertionRow | undefined> {
    const res = await q.query<StoredAssertionRow>(
      `select ${ASSERTION_COLUMNS} from truth_assertions where tenant_id = $1 and id = $2 and (expires_at is null or expires_at > now())`,
      [tenantId, id],
    );
    return (await this.#openAssertions(res.rows))[0];
  }

  /** One page, newest `timestamp` first (ties broken by id), live assertions only. */
  async queryAssertions(q: Sql, tenantId: string, f: AssertionFilter, page: AssertionPage): Promise<AssertionRow[]> {
    const values: unknown[] = [];
    const clauses = where(tenantId, f, values);
    if (page.cursor) clauses.push(`(asserted_at, id) < ($${values.push(page.cursor.assertedAt)}, $${values.push(page.cursor.id)}::uuid)`);
    const hashes = f.objectHashes ?? [];
    let sql: string;
    if (hashes.length <= 1) {
      if (hashes[0]) clauses.push(`object_hash = $${values.push(hashes[0])}`);
      sql = `select ${ASSERTION_COLUMNS} from truth_assertions where ${clauses.join(' and ')}
        order by asserted_at desc, id desc limit $${values.push(page.limit)} offset $${values.push(page.offset)}`;
    } else {
      // One ordered index range per hash, merged: "object_hash = any(…)" would make PostgreSQL read
      // and sort every match of a common object before it could return the first page.
      const window = `$${values.push(page.limit + page.offset)}`;
      const branches = hashes.map(
        (h) => `(select ${ASSERTION_COLUMNS} from truth_assertions where ${[...clauses, `object_hash = $${values.push(h)}`].join(' and ')}
          order by asserted_at desc, id desc limit ${window})`,
      );
      sql = `select * from (${branches.join(' union all ')}) m order by asserted_at desc, id desc limit $${values.push(page.limit)} offset $${values.push(page.offset)}`;
    }
    const res = await q.query<StoredAssertionRow>(sql, values);
    return this.#openAssertions(res.rows);
  }

  /**
   * Counts matching live assertions, but reads at most `cap + 1` of them: the count walks the same
   * index as the page, and the bound keeps a very common pattern from costing a full index scan.
   * Returns `cap + 1` when there are more than `cap`.
   */
  async countAssertions(q: Sql, tenantId: string, f: AssertionFilter, cap: number): Promise<number> {
    const values: unknown[] = [];
    const clauses = where(tenantId, f, values);
    if (f.objectHashes?.length) clauses.push(`object_hash in (${f.objectHashes.map((h) => `$${values.push(h)}`).join(', ')})`);
    const res = await q.query<{ n: number }>(
      `select count(*)::int as n from (select 1 from truth_assertions where ${clauses.join(' and ')} limit $${values.push(cap + 1)}) m`,
      values,
    );
    return res.rows[0]?.n ?? 0;
  }

  /** The highest seq of the tenant (0 when none): where a new subscription starts. */
  async headSeq(q: Sql, tenantId: string): Promise<string> {
    const res = await q.query<{ head: string }>(`select coalesce(max(seq), 0) as head from truth_assertions where tenant_id = $1`, [
      tenantId,
    ]);
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
    const values: unknown[] = [tenantId, after, upTo];
    const clauses = ['tenant_id = $1', 'seq > $2::bigint', 'seq <= $3::bigint', '(expires_at is null or expires_at > now())'];
    if (pattern.subject !== undefined) clauses.push(`subject = $${values.push(pattern.subject)}`);
    if (pattern.predicate !== undefined) clauses.push(`predicate = $${values.push(pattern.predicate)}`);
    const res = await q.query<StoredAssertionRow>(
      `select ${ASSERTION_COLUMNS} from truth_assertions where ${clauses.join(' and ')} order by seq limit $${values.push(limit)}`,
      values,
    );
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
      const res = await tx.query<{ recorded_at: Date }>(
        `insert into truth_job_provenance (tenant_id, job_id, attempt, fencing_token, outcome, submitted_by, request_digest, result, result_digest,
           runner_id, runner_spiffe_id, runner_cert_serial, runner_cert_fingerprint, runner_cert_pem, signature, evidence, evidence_hash, recorded_by, failure)
         values ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13, $14, $15, $16::jsonb, $17, $18, $19::jsonb)
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
          JSON.stringify(result),
          p.resultDigest,
          p.runnerId,
          p.runnerSpiffeId,
          p.runnerCertSerial,
          p.runnerCertFingerprint,
          p.runnerCertPem,
          p.signature,
          evidence === null || evidence === undefined ? null : JSON.stringify(evidence),
          p.evidenceHash,
          p.recordedBy,
          failure === null || failure === undefined ? null : JSON.stringify(failure),
        ],
      );
      return res.rows[0]?.recorded_at;
    } catch (err) {
      return inputError(err);
    }
  }

  async getProvenance(q: Sql, tenantId: string, jobId: string, attempt: number): Promise<ProvenanceRow | undefined> {
    const res = await q.query<ProvenanceRow>(
      `select ${PROVENANCE_COLUMNS} from truth_job_provenance where tenant_id = $1 and job_id = $2 and attempt = $3`,
      [tenantId, jobId, attempt],
    );
    return res.rows[0] && this.#openProvenance(res.rows[0]);
  }

  async listProvenance(q: Sql, tenantId: string, jobId: string): Promise<ProvenanceRow[]> {
    const res = await q.query<ProvenanceRow>(
      `select ${PROVENANCE_COLUMNS} from truth_job_provenance where tenant_id = $1 and job_id = $2 order by attempt`,
      [tenantId, jobId],
    );
    return Promise.all(res.rows.map((r) => this.#openProvenance(r)));
  }
}
