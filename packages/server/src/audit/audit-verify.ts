import { type Sql, type SqlResult, asSystem } from '../storage/index.js';
import { AUDIT_GENESIS_HASH, computeAuditHash, recordFromRow, type AuditRecord, type AuditRow } from './audit-chain.js';
import { auditSql as sql } from './sql.js';

/**
 * - `hash_mismatch`: the row's content no longer hashes to its stored hash (it was edited), or the
 *   row at an anchored seq is not the one anchored (`expected` is then the anchored hash).
 * - `prev_hash_mismatch`: the row is intact but does not link to the row before it (that row was
 *   edited and re-hashed, or rows were removed or inserted and re-hashed around it).
 * - `missing_seq`: seq `expected` is absent (`actual` is the seq found in its place, or `none`).
 * - `out_of_order`: the row at this seq was written for seq `actual` (rows moved or duplicated).
 */
/**
 * Against the checkpoints kept outside the database (audit-checkpoint-verify.ts):
 * - `checkpoint_forged`: a checkpoint file whose signature, certificate or content does not hold.
 * - `checkpoint_missing`: the chain records a checkpoint (an `audit.checkpoint` event at this seq)
 *   whose file is gone.
 * - `checkpoints_absent`: the checkpoint directory itself is gone.
 */
export type AuditChainBreak =
  | 'hash_mismatch'
  | 'prev_hash_mismatch'
  | 'missing_seq'
  | 'out_of_order'
  | 'checkpoint_forged'
  | 'checkpoint_missing'
  | 'checkpoints_absent';

export interface AuditChainFailure {
  seq: string;
  reason: AuditChainBreak;
  expected: string;
  actual: string;
}

export type AuditVerifyResult =
  { ok: true; count: number; headSeq: string; headHash: string } | { ok: false; count: number; firstBad: AuditChainFailure };

/** A (seq, hash) pair recorded outside the database, which the chain must still contain. */
export interface AuditAnchor {
  seq: string;
  hash: string;
}

export interface AuditChainVerifierOptions {
  /** The first seq to expect (default 1). */
  fromSeq?: string | number | bigint;
  /** The hash of the row before fromSeq (default: the genesis hash, which is right for seq 1). */
  prevHash?: string;
  expectHead?: AuditAnchor | undefined;
  /** More (seq, hash) pairs the chain must contain, e.g. from signed checkpoints. */
  anchors?: readonly AuditAnchor[] | undefined;
}

// A row whose content hashes correctly under a nearby seq was moved, not edited; this bounds the
// search for that seq, which runs only once, on the first failing row.
const MOVED_ROW_SEARCH = 1000n;

function parseSeq(value: string | number | bigint): bigint | undefined {
  const text = String(value);
  return /^[0-9]{1,19}$/.test(text) ? BigInt(text) : undefined;
}

/**
 * Checks records pushed in chain order; knows nothing about where they come from, so the same
 * code checks the database (verifyAuditChain) and an exported JSON Lines file.
 */
export class AuditChainVerifier {
  #expectedSeq: bigint;
  #expectedPrev: string;
  #count = 0;
  #headHash: string;
  #failure: AuditChainFailure | undefined;
  /** seq → hash the chain must have there; and the highest such seq (the chain must reach it). */
  readonly #anchors = new Map<bigint, string>();
  #lastAnchor: bigint | undefined;

  constructor(options: AuditChainVerifierOptions = {}) {
    const from = parseSeq(options.fromSeq ?? 1);
    if (from === undefined || from < 1n) throw new RangeError(`fromSeq must be a positive integer, not ${String(options.fromSeq)}`);
    this.#expectedSeq = from;
    this.#expectedPrev = options.prevHash ?? AUDIT_GENESIS_HASH;
    this.#headHash = this.#expectedPrev;
    for (const anchor of [...(options.expectHead ? [options.expectHead] : []), ...(options.anchors ?? [])]) {
      const seq = parseSeq(anchor.seq);
      if (seq === undefined || seq < 1n) throw new RangeError(`an anchor's seq must be a positive integer, not ${anchor.seq}`);
      this.#anchors.set(seq, anchor.hash.toLowerCase());
      if (this.#lastAnchor === undefined || seq > this.#lastAnchor) this.#lastAnchor = seq;
    }
  }

  /** The seq the next record must have. */
  get nextSeq(): bigint {
    return this.#expectedSeq;
  }

  get failure(): AuditChainFailure | undefined {
    return this.#failure;
  }

  /** Checks the next record; returns the failure (and keeps returning it) once one is found. */
  push(record: AuditRecord): AuditChainFailure | undefined {
    if (this.#failure) return this.#failure;
    const expected = this.#expectedSeq;
    const seq = parseSeq(record.seq);
    if (seq === undefined || seq < expected) {
      return this.#fail({ seq: expected.toString(), reason: 'out_of_order', expected: expected.toString(), actual: String(record.seq) });
    }
    if (seq > expected) {
      return this.#fail({ seq: expected.toString(), reason: 'missing_seq', expected: expected.toString(), actual: seq.toString() });
    }
    const recomputed = computeAuditHash(record);
    if (recomputed !== record.hash) {
      const writtenAs = findOriginalSeq(record, seq);
      if (writtenAs !== undefined) {
        return this.#fail({ seq: seq.toString(), reason: 'out_of_order', expected: seq.toString(), actual: writtenAs.toString() });
      }
      return this.#fail({ seq: seq.toString(), reason: 'hash_mismatch', expected: recomputed, actual: record.hash });
    }
    if (record.prevHash !== this.#expectedPrev) {
      return this.#fail({ seq: seq.toString(), reason: 'prev_hash_mismatch', expected: this.#expectedPrev, actual: record.prevHash });
    }
    const anchored = this.#anchors.get(seq);
    if (anchored !== undefined && anchored !== record.hash) {
      return this.#fail({ seq: seq.toString(), reason: 'hash_mismatch', expected: anchored, actual: record.hash });
    }
    this.#count += 1;
    this.#expectedSeq = seq + 1n;
    this.#expectedPrev = record.hash;
    this.#headHash = record.hash;
    return undefined;
  }

  /** The verdict once every record has been pushed. */
  finish(): AuditVerifyResult {
    if (!this.#failure && this.#lastAnchor !== undefined && this.#lastAnchor >= this.#expectedSeq) {
      // The chain ends before a seq known to have existed: its tail was cut off (after `actual`).
      const last = this.#expectedSeq - 1n;
      this.#fail({
        seq: this.#lastAnchor.toString(),
        reason: 'missing_seq',
        expected: this.#lastAnchor.toString(),
        actual: last > 0n ? last.toString() : 'none',
      });
    }
    if (this.#failure) return { ok: false, count: this.#count, firstBad: this.#failure };
    return { ok: true, count: this.#count, headSeq: (this.#expectedSeq - 1n).toString(), headHash: this.#headHash };
  }

  #fail(failure: AuditChainFailure): AuditChainFailure {
    this.#failure = failure;
    return failure;
  }
}

function findOriginalSeq(record: AuditRecord, seq: bigint): bigint | undefined {
  for (let d = 1n; d <= MOVED_ROW_SEARCH; d++) {
    for (const candidate of [seq - d, seq + d]) {
      if (candidate >= 1n && computeAuditHash({ ...record, seq: candidate.toString() }) === record.hash) return candidate;
    }
  }
  return undefined;
}

export interface VerifyAuditOptions {
  /** Start here instead of seq 1, e.g. after the head a previous run reported. */
  fromSeq?: string | number | bigint;
  /**
   * The hash of row fromSeq-1 as a previous run reported it. Without it the stored hash of that
   * row is taken on trust.
   */
  prevHash?: string;
  /** Rows per query (default 5000): memory stays bounded whatever the length of the chain. */
  batchSize?: number;
  /** A head recorded earlier outside the database; detects a chain cut short or rewritten wholesale. */
  expectHead?: AuditAnchor;
  /** More pairs the chain must contain (the signed checkpoints). */
  anchors?: readonly AuditAnchor[];
  /** Sees every record that verified, in chain order. */
  onRecord?: (record: AuditRecord) => void;
}

const DEFAULT_BATCH = 5000;
const MAX_BATCH = 50_000;

/**
 * Walks the chain in seq order in batches and stops at the first broken link. The end is the
 * head when the walk starts; events appended meanwhile are left for the next run.
 */
export async function verifyAuditChain(db: Sql, options: VerifyAuditOptions = {}): Promise<AuditVerifyResult> {
  return asSystem('verify the audit chain', async () => {
    const batchSize = Math.min(MAX_BATCH, Math.max(1, Math.trunc(options.batchSize ?? DEFAULT_BATCH)));
    const from = parseSeq(options.fromSeq ?? 1);
    if (from === undefined || from < 1n) throw new RangeError(`fromSeq must be a positive integer, not ${String(options.fromSeq)}`);

    const anchor = options.expectHead;
    const anchorSeq = anchor ? parseSeq(anchor.seq) : undefined;
    if (anchor && (anchorSeq === undefined || anchorSeq < 1n))
      throw new RangeError(`expectHead.seq must be a positive integer, not ${anchor.seq}`);

    let prevHash = options.prevHash ?? AUDIT_GENESIS_HASH;
    if (from > 1n && options.prevHash === undefined) {
      const before = (from - 1n).toString();
      const row = await hashAt(db, before);
      if (row === undefined)
        return { ok: false, count: 0, firstBad: { seq: before, reason: 'missing_seq', expected: before, actual: 'none' } };
      prevHash = row;
    }

    if (anchor && anchorSeq !== undefined && anchorSeq < from) {
      // The anchor lies before the range walked here; check it on its own.
      const stored = await hashAt(db, anchorSeq.toString());
      const seq = anchorSeq.toString();
      if (stored === undefined) return { ok: false, count: 0, firstBad: { seq, reason: 'missing_seq', expected: seq, actual: 'none' } };
      if (stored !== anchor.hash.toLowerCase())
        return { ok: false, count: 0, firstBad: { seq, reason: 'hash_mismatch', expected: anchor.hash.toLowerCase(), actual: stored } };
    }

    const chain = new AuditChainVerifier({ fromSeq: from, prevHash, expectHead: anchor, anchors: options.anchors });
    const { rows: headRows } = await sql('head_seq').run<{ head: string | null }>(db);
    const head = headRows[0]?.head ?? null;
    if (head !== null) {
      const end = BigInt(head);
      const step = BigInt(batchSize);
      // Windows of seq rather than LIMIT (sql/audit/events_in_window.sql says why).
      const fetch = (after: bigint) =>
        sql('events_in_window').run<AuditRow>(db, {
          after: after.toString(),
          up_to: (after + step < end ? after + step : end).toString(),
        });
      // The next window is requested before this one is hashed, so that on PostgreSQL the server
      // reads and sends it while this process is busy hashing.
      let after = from - 1n;
      let pending: Promise<SqlResult<AuditRow>> | undefined = after < end ? fetch(after) : undefined;
      while (pending) {
        let { rows } = await pending;
        if (rows.length === 0) {
          // A whole window is missing. Rather than walk an arbitrarily wide gap (one renumbered row
          // can open one), take the next row there is: it is where the verdict lies.
          rows = (await sql('first_event_after').run<AuditRow>(db, { after: after.toString() })).rows;
        }
        after += step;
        pending = after < end ? fetch(after) : undefined;
        for (const row of rows) {
          const record = recordFromRow(row);
          if (chain.push(record)) {
            await pending?.catch(() => undefined);
            return chain.finish();
          }
          options.onRecord?.(record);
        }
      }
    }
    return chain.finish();
  });
}

async function hashAt(db: Sql, seq: string): Promise<string | undefined> {
  const { rows } = await sql('hash_at').run<{ hash: string }>(db, { seq });
  return rows[0]?.hash;
}
