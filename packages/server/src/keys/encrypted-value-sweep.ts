import { dataKeyIdOf, isEncrypted, type FieldCipher } from '@controlplane/platform';
import { isInternalError } from '@controlplane/contracts';
import type { Sql } from '../storage/index.js';
import {
  ASSERTION_OBJECT_FIELD,
  ASSERTION_OBJECT_INDEX_SCOPE,
  ENCRYPTED_TABLES,
  isEmptyContainer,
  isSensitiveAssertion,
  openSlots,
  resealSlots,
  sensitiveAssertionSql,
  type EncryptedTable,
} from './encrypted-fields.js';
import { keysSql as sql } from './sql.js';

const ASSERTIONS_PHASE = 'truth_assertions';
/** The order in which a run sweeps; a phase name is stored in the run row, so these never change meaning. */
export const SWEEP_PHASES: readonly string[] = [...ENCRYPTED_TABLES.map((t) => t.table), ASSERTIONS_PHASE];

const ASSERTION_KEY: EncryptedTable['key'] = [
  { column: 'tenant_id', type: 'text' },
  { column: 'id', type: 'uuid' },
];

/** What a check of every stored encrypted value found. */
export interface StoredValueCheck {
  /** Encrypted values (and clear values in encrypted places) looked at. */
  values: number;
  /** Ciphertexts under a key other than the tenant's current one. */
  stale: number;
  /** Clear values where a ciphertext belongs (stored before encryption was on). */
  clear: number;
  /** Values that do not decrypt for their row. */
  unreadable: Array<{ table: string; rowId: string; reason: string }>;
}

export interface BatchOutcome {
  /** The phase has no rows left after the cursor it was given. */
  finished: boolean;
  /** The keyset position after this batch (null: from the start). */
  cursor: unknown[] | null;
  scanned: number;
  rewritten: number;
  locked: number;
}

/**
 * The sweep of every stored encrypted value, table by table (SWEEP_PHASES) in keyset order:
 * re-encrypting a batch under the tenants' current keys, or reading everything to check it.
 *
 * Its statements stay in code: they are generated per table from ENCRYPTED_TABLES (the table's
 * key, encrypted columns and row filter) and from the configured sensitive predicates, so a new
 * encrypted table needs no new SQL.
 */
export class EncryptedValueSweep {
  constructor(
    readonly cipher: FieldCipher,
    private readonly batchSize: number,
    private readonly sensitivePredicates: readonly string[],
  ) {}

  /** One batch of a phase, after `cursor`, in the caller's transaction. */
  batch(tx: Sql, phase: string, cursor: unknown[] | null): Promise<BatchOutcome> {
    return phase === ASSERTIONS_PHASE ? this.#sweepAssertions(tx, cursor) : this.#sweepTable(tx, tableOf(phase), cursor);
  }

  /**
   * Reads every stored encrypted value (without locking) and reports those not on their tenant's
   * current key (`currentKeyOf`), those still in clear, and those that do not decrypt for their row.
   */
  async check(db: Sql, currentKeyOf: (tenantId: string) => Promise<string | undefined>): Promise<StoredValueCheck> {
    const out: StoredValueCheck = { values: 0, stale: 0, clear: 0, unreadable: [] };
    const currents = new Map<string, string | undefined>();
    const currentOf = async (tenantId: string) => {
      if (!currents.has(tenantId)) currents.set(tenantId, await currentKeyOf(tenantId));
      return currents.get(tenantId);
    };
    const judge = async (tenantId: string, value: unknown, table: string, rowId: string, open: () => Promise<unknown>) => {
      out.values++;
      if (!isEncrypted(value)) {
        out.clear++;
        return;
      }
      if (dataKeyIdOf(value) !== (await currentOf(tenantId))) out.stale++;
      try {
        await open();
      } catch (err) {
        out.unreadable.push({ table, rowId, reason: isInternalError(err, 'CP_CRYPTO_DECRYPT_') ? err.code : (err as Error).message });
      }
    };
    for (const t of ENCRYPTED_TABLES) {
      const columns = [...new Set(['tenant_id', ...t.extra, ...t.columns.map((c) => c.name)])];
      await this.#scan(db, t.table, t.key, columns, t.where, async (row) => {
        const tenantId = String(row.tenant_id);
        const ref = { tenantId, table: t.table, rowId: t.rowId(row) };
        for (const c of t.columns) {
          for (const s of c.slots) {
            const value = getPath(row[c.name], s.path);
            if (value === undefined || isEmptyContainer(value)) continue;
            await judge(tenantId, value, t.table, ref.rowId, () => openSlots(this.cipher, ref, row[c.name], [s]));
          }
        }
      });
    }
    const values: unknown[] = [];
    const where = `(object_encrypted or ${sensitiveAssertionSql(this.sensitivePredicates, values)})`;
    await this.#scan(
      db,
      ASSERTIONS_PHASE,
      ASSERTION_KEY,
      ['tenant_id', 'id', 'object', 'object_encrypted'],
      where,
      async (row) => {
        const tenantId = String(row.tenant_id);
        const aad = { tenantId, table: ASSERTIONS_PHASE, rowId: String(row.id), field: ASSERTION_OBJECT_FIELD };
        if (!row.object_encrypted) {
          out.values++;
          out.clear++;
          return;
        }
        await judge(tenantId, row.object, ASSERTIONS_PHASE, aad.rowId, () => this.cipher.decrypt(String(row.object), aad));
      },
      values,
    );
    return out;
  }

  /** One batch of a table with encrypted slots. */
  async #sweepTable(tx: Sql, t: EncryptedTable, cursor: unknown[] | null): Promise<BatchOutcome> {
    const columns = [...new Set(['tenant_id', ...t.key.map((k) => k.column), ...t.extra, ...t.columns.map((c) => c.name)])];
    const batch = await this.#lockBatch(tx, t.table, t.key, columns, t.where, cursor, []);
    if (!batch) return { finished: true, cursor: null, scanned: 0, rewritten: 0, locked: 0 };
    const updates: Record<string, unknown>[] = [];
    for (const row of batch.rows) {
      const ref = { tenantId: String(row.tenant_id), table: t.table, rowId: t.rowId(row) };
      const update: Record<string, unknown> = {};
      let changed = false;
      for (const c of t.columns) {
        const next = await resealSlots(this.cipher, ref, row[c.name], c.slots);
        update[c.name] = next ?? null;
        update[`${c.name}_set`] = next !== undefined;
        changed ||= next !== undefined;
      }
      if (!changed) continue;
      for (const k of t.key) update[k.column] = row[k.column];
      updates.push(update);
    }
    if (updates.length > 0) {
      const recordType = [
        ...t.key.map((k) => `${k.column} ${k.type}`),
        ...t.columns.flatMap((c) => [`${c.name} jsonb`, `${c.name}_set boolean`]),
      ].join(', ');
      // Only the columns that changed are written: writing back an unchanged jsonb value through
      // JavaScript could alter it (a numeric such as 1.10 comes back as 1.1).
      await tx.query(
        `update ${t.table} t set ${t.columns.map((c) => `${c.name} = case when r.${c.name}_set then r.${c.name} else t.${c.name} end`).join(', ')}
           from jsonb_to_recordset($1::jsonb) as r(${recordType})
          where ${t.key.map((k) => `t.${k.column} = r.${k.column}`).join(' and ')}`,
        [JSON.stringify(updates)],
      );
    }
    return { finished: false, cursor: batch.cursor, scanned: batch.rows.length, rewritten: updates.length, locked: batch.skipped };
  }

  /** One batch of sensitive assertions: re-encrypts objects, and encrypts and re-indexes those stored in clear. */
  async #sweepAssertions(tx: Sql, cursor: unknown[] | null): Promise<BatchOutcome> {
    const values: unknown[] = [];
    const where = `(object_encrypted or ${sensitiveAssertionSql(this.sensitivePredicates, values)})`;
    const batch = await this.#lockBatch(
      tx,
      ASSERTIONS_PHASE,
      ASSERTION_KEY,
      ['tenant_id', 'id', 'subject', 'predicate', 'object', 'object_encrypted', 'metadata'],
      where,
      cursor,
      values,
    );
    if (!batch) return { finished: true, cursor: null, scanned: 0, rewritten: 0, locked: 0 };
    const sensitive = new Set(this.sensitivePredicates);
    const updates: Array<{ tenant_id: string; id: string; object: string; hash: string | null }> = [];
    for (const row of batch.rows) {
      const tenantId = String(row.tenant_id);
      const aad = { tenantId, table: ASSERTIONS_PHASE, rowId: String(row.id), field: ASSERTION_OBJECT_FIELD };
      if (row.object_encrypted) {
        const next = await this.cipher.reencrypt(String(row.object), aad);
        if (next !== row.object) updates.push({ tenant_id: tenantId, id: aad.rowId, object: next, hash: null });
      } else if (
        isSensitiveAssertion({ subject: String(row.subject), predicate: String(row.predicate), metadata: row.metadata }, sensitive)
      ) {
        const object = row.object as Parameters<FieldCipher['encrypt']>[0];
        updates.push({
          tenant_id: tenantId,
          id: aad.rowId,
          object: await this.cipher.encrypt(object, aad),
          hash: await this.cipher.blindIndex(tenantId, object, ASSERTION_OBJECT_INDEX_SCOPE),
        });
      }
    }
    if (updates.length > 0) await sql('assertion_objects_reseal').run(tx, { objects: JSON.stringify(updates) });
    return { finished: false, cursor: batch.cursor, scanned: batch.rows.length, rewritten: updates.length, locked: batch.skipped };
  }

  /**
   * The next `batchSize` keys after `cursor`, and those of their rows that no running transaction
   * holds, locked. The returned cursor stops just before the first row that was held, so that row
   * is tried again by the next batch. Undefined when no rows are left after `cursor`.
   */
  async #lockBatch(
    tx: Sql,
    table: string,
    key: EncryptedTable['key'],
    columns: readonly string[],
    where: string | undefined,
    cursor: unknown[] | null,
    values: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; cursor: unknown[] | null; skipped: number } | undefined> {
    const keyList = key.map((k) => k.column).join(', ');
    const conds = where ? [where] : [];
    if (cursor) conds.push(`(${keyList}) > (${key.map((k, i) => `$${values.push(cursor[i])}::${k.type}`).join(', ')})`);
    const range = await tx.query<Record<string, unknown>>(
      `select ${keyList} from ${table} ${conds.length ? `where ${conds.join(' and ')}` : ''} order by ${keyList} limit $${values.push(this.batchSize)}`,
      values,
    );
    const last = range.rows[range.rows.length - 1];
    if (!last) return undefined;
    const lockValues = values.slice(0, values.length - 1);
    const lockConds = [...conds, `(${keyList}) <= (${key.map((k) => `$${lockValues.push(last[k.column])}::${k.type}`).join(', ')})`];
    const locked = await tx.query<Record<string, unknown>>(
      `select ${columns.join(', ')} from ${table} where ${lockConds.join(' and ')} order by ${keyList} for update skip locked`,
      lockValues,
    );
    const keyOf = (r: Record<string, unknown>) => JSON.stringify(key.map((k) => String(r[k.column])));
    const got = new Set(locked.rows.map(keyOf));
    const firstSkipped = range.rows.findIndex((r) => !got.has(keyOf(r)));
    const skipped = range.rows.filter((r) => !got.has(keyOf(r))).length;
    // Rows locked after a skipped one are done now as well; redoing them next time changes nothing.
    if (firstSkipped === -1) return { rows: locked.rows, cursor: key.map((k) => last[k.column]), skipped: 0 };
    const before = range.rows[firstSkipped - 1];
    return { rows: locked.rows, cursor: before ? key.map((k) => before[k.column]) : cursor, skipped };
  }

  async #scan(
    db: Sql,
    table: string,
    key: EncryptedTable['key'],
    columns: readonly string[],
    where: string | undefined,
    visit: (row: Record<string, unknown>) => Promise<void>,
    baseValues: readonly unknown[] = [],
  ): Promise<void> {
    const keyList = key.map((k) => k.column).join(', ');
    const cols = [...new Set([...key.map((k) => k.column), ...columns])].join(', ');
    let cursor: unknown[] | null = null;
    for (;;) {
      const values = [...baseValues];
      const conds = where ? [where] : [];
      if (cursor) {
        const c: unknown[] = cursor;
        conds.push(`(${keyList}) > (${key.map((k, i) => `$${values.push(c[i])}::${k.type}`).join(', ')})`);
      }
      const res = await db.query<Record<string, unknown>>(
        `select ${cols} from ${table} ${conds.length ? `where ${conds.join(' and ')}` : ''} order by ${keyList} limit $${values.push(this.batchSize)}`,
        values,
      );
      for (const row of res.rows) await visit(row);
      const last = res.rows[res.rows.length - 1];
      if (!last || res.rows.length < this.batchSize) return;
      cursor = key.map((k) => last[k.column]);
    }
  }
}

function tableOf(phase: string): EncryptedTable {
  const t = ENCRYPTED_TABLES.find((x) => x.table === phase);
  if (!t) throw new Error(`key rotation run is in an unknown phase ${JSON.stringify(phase)}`);
  return t;
}

function getPath(doc: unknown, path: readonly string[]): unknown {
  let node = doc;
  for (const k of path) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, k)) return undefined;
    node = (node as Record<string, unknown>)[k];
  }
  return node;
}
