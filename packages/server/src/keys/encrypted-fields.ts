import { isEncrypted, type FieldCipher, type FieldValue } from '@controlplane/platform';

/**
 * One JSON value inside a column that is stored as its own `cpenc:v1:` ciphertext. The rest of the
 * column (ids, types, metadata, timestamps) stays clear so that routing, filtering and idempotency
 * keep working on it.
 */
export interface EncryptedSlot {
  /** Keys from the column's value down to the encrypted value. */
  readonly path: readonly string[];
  /**
   * The `field` of the associated data. Part of every stored ciphertext: renaming it makes the
   * values already stored unreadable.
   */
  readonly field: string;
}

/** The row a value belongs to: with the slot's field, the associated data of its ciphertext. */
export interface RowRef {
  readonly tenantId: string;
  readonly table: string;
  readonly rowId: string;
}

const slot = (field: string, ...path: string[]): EncryptedSlot => ({ path, field });

/** jobs.request (a JobRequest): what the submitter asked the handler to work on. */
export const JOB_REQUEST_SLOTS = [
  slot('request.payload.data', 'payload', 'data'),
  slot('request.payload.options', 'payload', 'options'),
] as const;
/**
 * jobs.result (a JobResult): the handler's output, and the error of a failed job. A handler's error
 * message is free text that may quote its input, so it is treated like the details.
 */
export const JOB_RESULT_SLOTS = [
  slot('result.data', 'data'),
  slot('result.error.message', 'error', 'message'),
  slot('result.error.details', 'error', 'details'),
] as const;
/** jobs.error and job_attempts.error (ErrorEnvelopes). */
export const JOB_ERROR_SLOTS = [slot('error.message', 'message'), slot('error.details', 'details')] as const;
/** job_events.data: the free-text message of a `job.progress` event. */
export const JOB_EVENT_SLOTS = [slot('data.message', 'message')] as const;
/**
 * result_outbox.failure and truth_job_provenance.failure: a runner's failure report as it signed it
 * (FailRequest.error). Its message and details are error text like any other.
 */
export const FAILURE_REPORT_SLOTS = [slot('failure.message', 'message'), slot('failure.details', 'details')] as const;
/** truth_job_provenance.result: the JobResult as the runner signed it. */
export const PROVENANCE_RESULT_SLOTS = JOB_RESULT_SLOTS;
/** truth_job_provenance.evidence: the evidence items and decision (id, runner and hash stay clear). */
export const PROVENANCE_EVIDENCE_SLOTS = [slot('evidence.items', 'items'), slot('evidence.decision', 'decision')] as const;

/** The associated-data row id of a job attempt and of a provenance record: one per (job, attempt). */
export function attemptRowId(jobId: string, attempt: number | string): string {
  return `${jobId}/${attempt}`;
}

/** truth_assertions.object when the assertion is sensitive: the whole value is one ciphertext. */
export const ASSERTION_OBJECT_FIELD = 'object';
/** Blind-index scope of assertion objects, so their index values are unrelated to any other column's. */
export const ASSERTION_OBJECT_INDEX_SCOPE = 'truth_assertions.object';

/** Subjects of assertions that TruthCore records from verified job results. */
const JOB_SUBJECT_PREFIX = 'job:';

/**
 * Whether an assertion's object is stored encrypted: when its metadata says `sensitive: true`,
 * when its predicate is one of `sensitivePredicates`, and always for the `result` of a job (which
 * holds the job's output).
 */
export function isSensitiveAssertion(
  a: { subject: string; predicate: string; metadata: unknown },
  sensitivePredicates: ReadonlySet<string> = new Set(),
): boolean {
  if (a.subject.startsWith(JOB_SUBJECT_PREFIX) && a.predicate === 'result') return true;
  if (sensitivePredicates.has(a.predicate)) return true;
  const metadata = a.metadata;
  return typeof metadata === 'object' && metadata !== null && (metadata as Record<string, unknown>).sensitive === true;
}

/** The same rule as SQL over truth_assertions, for the rotation job to find rows stored before encryption was on. */
export function sensitiveAssertionSql(sensitivePredicates: readonly string[], values: unknown[]): string {
  const rules = [`(subject like '${JOB_SUBJECT_PREFIX}%' and predicate = 'result')`, `(metadata -> 'sensitive') = 'true'::jsonb`];
  if (sensitivePredicates.length > 0) rules.push(`predicate = any($${values.push([...sensitivePredicates])}::text[])`);
  return `(${rules.join(' or ')})`;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function getAt(doc: unknown, path: readonly string[]): unknown {
  let node = doc;
  for (const key of path) {
    if (!isObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/**
 * A copy of `doc` with the value at `path` replaced. Only the objects along the path are copied:
 * the caller's document is never changed, and the untouched branches are shared.
 */
function setAt<T>(doc: T, path: readonly string[], value: unknown): T {
  const [head, ...rest] = path;
  if (head === undefined || !isObject(doc)) return doc;
  const copy: Json = { ...doc };
  Object.defineProperty(copy, head, {
    value: rest.length === 0 ? value : setAt(copy[head], rest, value),
    enumerable: true,
    writable: true,
    configurable: true,
  });
  return copy as T;
}

/**
 * `{}` and `[]` are stored as they are: their ciphertext would show the same through its length
 * (an options or details slot always holds an object or an array), and they are the common case of
 * those slots, so skipping them saves a cipher operation per job on the hot path.
 */
export function isEmptyContainer(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0);
}

/** Whether any slot of `doc` holds a ciphertext (which only a cipher can open). */
export function hasSealedSlot(doc: unknown, slots: readonly EncryptedSlot[]): boolean {
  return slots.some((s) => isEncrypted(getAt(doc, s.path)));
}

async function mapSlots<T>(
  doc: T,
  slots: readonly EncryptedSlot[],
  fn: (value: unknown, s: EncryptedSlot) => Promise<unknown>,
): Promise<T> {
  let out = doc;
  for (const s of slots) {
    const value = getAt(out, s.path);
    if (value === undefined) continue;
    const next = await fn(value, s);
    if (next !== value) out = setAt(out, s.path, next);
  }
  return out;
}

/**
 * `doc` with every present slot encrypted (absent slots stay absent). Without a cipher, `doc`
 * itself: storage then behaves exactly as it does without encryption.
 */
export async function sealSlots<T>(cipher: FieldCipher | undefined, row: RowRef, doc: T, slots: readonly EncryptedSlot[]): Promise<T> {
  if (!cipher || doc === null || doc === undefined) return doc;
  return mapSlots(doc, slots, async (value, s) =>
    isEmptyContainer(value) ? value : cipher.encrypt(value as FieldValue, { ...row, field: s.field }),
  );
}

/**
 * `doc` with every ciphertext slot decrypted. A slot holding a clear value (written before
 * encryption was switched on) is returned as it is; the rotation job encrypts it later. A
 * ciphertext that does not decrypt for this row throws a CP_CRYPTO_DECRYPT_* error naming table, field and row.
 */
export async function openSlots<T>(cipher: FieldCipher | undefined, row: RowRef, doc: T, slots: readonly EncryptedSlot[]): Promise<T> {
  if (!cipher || doc === null || doc === undefined) return doc;
  return mapSlots(doc, slots, async (value, s) => (isEncrypted(value) ? cipher.decrypt(value, { ...row, field: s.field }) : value));
}

/**
 * `doc` with every slot under the tenant's current data key (clear slots encrypted, ciphertexts
 * under older keys re-encrypted after checking that they decrypt), or undefined when every slot
 * already was, so the caller writes nothing.
 */
export async function resealSlots<T>(cipher: FieldCipher, row: RowRef, doc: T, slots: readonly EncryptedSlot[]): Promise<T | undefined> {
  if (doc === null || doc === undefined) return undefined;
  let changed = false;
  const out = await mapSlots(doc, slots, async (value, s) => {
    if (isEmptyContainer(value)) return value;
    const aad = { ...row, field: s.field };
    const next = isEncrypted(value) ? await cipher.reencrypt(value, aad) : await cipher.encrypt(value as FieldValue, aad);
    if (next !== value) changed = true;
    return next;
  });
  return changed ? out : undefined;
}

/** A column holding encrypted slots, for the rotation job. */
export interface EncryptedColumn {
  readonly name: string;
  readonly slots: readonly EncryptedSlot[];
}

/** A table whose columns hold encrypted slots, described for the rotation job's generic sweep. */
export interface EncryptedTable {
  readonly table: string;
  /** The primary key, in keyset order, with SQL types for the cursor's casts. */
  readonly key: ReadonlyArray<{ readonly column: string; readonly type: 'text' | 'uuid' | 'integer' | 'bigint' }>;
  /** Other columns rowId needs. */
  readonly extra: readonly string[];
  readonly columns: readonly EncryptedColumn[];
  /** Only rows that can hold a ciphertext (cheap to test), or undefined for every row. */
  readonly where?: string;
  rowId(row: Record<string, unknown>): string;
}

/** Every table with encrypted slots. truth_assertions is not here: its object is a whole-column ciphertext with a flag and a blind index. */
export const ENCRYPTED_TABLES: readonly EncryptedTable[] = [
  {
    table: 'jobs',
    key: [
      { column: 'tenant_id', type: 'text' },
      { column: 'id', type: 'uuid' },
    ],
    extra: [],
    columns: [
      { name: 'request', slots: JOB_REQUEST_SLOTS },
      { name: 'result', slots: JOB_RESULT_SLOTS },
      { name: 'error', slots: JOB_ERROR_SLOTS },
    ],
    rowId: (r) => String(r.id),
  },
  {
    table: 'job_attempts',
    key: [
      { column: 'tenant_id', type: 'text' },
      { column: 'job_id', type: 'uuid' },
      { column: 'attempt', type: 'integer' },
    ],
    extra: [],
    columns: [{ name: 'error', slots: JOB_ERROR_SLOTS }],
    where: 'error is not null',
    rowId: (r) => attemptRowId(String(r.job_id), String(r.attempt)),
  },
  {
    table: 'job_events',
    key: [{ column: 'seq', type: 'bigint' }],
    extra: ['id'],
    columns: [{ name: 'data', slots: JOB_EVENT_SLOTS }],
    where: `data ? 'message'`,
    rowId: (r) => String(r.id),
  },
  {
    table: 'truth_job_provenance',
    key: [
      { column: 'tenant_id', type: 'text' },
      { column: 'job_id', type: 'uuid' },
      { column: 'attempt', type: 'integer' },
    ],
    extra: [],
    columns: [
      { name: 'result', slots: PROVENANCE_RESULT_SLOTS },
      { name: 'evidence', slots: PROVENANCE_EVIDENCE_SLOTS },
      { name: 'failure', slots: FAILURE_REPORT_SLOTS },
    ],
    rowId: (r) => attemptRowId(String(r.job_id), String(r.attempt)),
  },
  {
    table: 'result_outbox',
    key: [{ column: 'id', type: 'bigint' }],
    extra: ['job_id', 'attempt'],
    columns: [{ name: 'failure', slots: FAILURE_REPORT_SLOTS }],
    where: 'failure is not null',
    rowId: (r) => attemptRowId(String(r.job_id), String(r.attempt)),
  },
];
